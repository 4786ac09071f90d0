"""One multi-device training check, run in a fresh process; writes `result.json`.

Usage: `python tests/support/multi_device_training.py MODE OUT_DIR`, where MODE is
- `data_parallel` / `model_parallel`: `keras.distribution` on 4 host CPU devices
  (the caller sets `KERAS_BACKEND=jax` and
  `XLA_FLAGS=--xla_force_host_platform_device_count=4`);
- `mirrored`: `tf.distribute.MirroredStrategy` on 2 logical CPU devices
  (TensorFlow backend; the split happens here, before TensorFlow starts).

Each mode trains the same LoRA classifier on the same global batch twice,
on one device and distributed, and records both loss trajectories, the
logits after training, the logits of a fresh single-device model that loaded
the distributed model's adapter file, and (JAX) how each variable is sharded.
"""

import contextlib
import json
import pathlib
import sys

MODE, OUT = sys.argv[1], pathlib.Path(sys.argv[2])
if MODE == "mirrored":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_adapters  # noqa: E402
from tests.export.text_classifiers import LABEL_NAMES, TEXTS, make_text_classifier  # noqa: E402
from tests.support.tiny_models import randomize_adapters  # noqa: E402

CONFIG = keras_adapters.LoraConfig(rank=2)
STEPS = 4
LABELS = np.array([1, 0, 1, 0])
# Tokenised outside the model, padding mask as int32: under MirroredStrategy,
# Keras 3.15.1 MEAN-reduces the first batch when it builds the step, and a
# bool mask (what the preprocessor gives) fails there, with or without adapters.
PREPROCESSOR = make_text_classifier(seed=0).preprocessor
TOKENS = {
    name: np.asarray(value).astype("int32")
    for name, value in PREPROCESSOR(TEXTS[:4]).items()  # one global batch of 4
}


def build():
    # No dropout: replicas draw different masks, so training would differ by design.
    classifier = make_text_classifier(seed=0, preprocessor=False, dropout=0.0)
    keras_adapters.add_adapter(classifier, CONFIG, "task", verbose=False)
    randomize_adapters(classifier, scale=0.2)  # B != 0: A gets gradients from step one
    optimizer = keras.optimizers.Adam(0.01) if MODE == "model_parallel" else "sgd"
    classifier.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return classifier


def train(classifier):
    # One batch per epoch: each epoch's loss is the loss of one step, before its update.
    history = classifier.fit(TOKENS, LABELS, batch_size=4, epochs=STEPS, shuffle=False, verbose=0)
    return history.history["loss"]


def logits(classifier):
    return np.asarray(classifier.predict(TOKENS, verbose=0), dtype="float64").tolist()


def distributed_scope():
    if MODE == "mirrored":
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope()
    devices = keras.distribution.list_devices()
    if MODE == "data_parallel":
        mesh = keras.distribution.DeviceMesh((len(devices),), ["batch"], devices)
        return keras.distribution.DataParallel(device_mesh=mesh).scope()
    mesh = keras.distribution.DeviceMesh((2, len(devices) // 2), ["batch", "model"], devices)
    layout_map = keras_adapters.adapter_layout_map(build(), mesh)
    distribution = keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    return distribution.scope()


def shardings(classifier):
    """`{path: [mesh axis or None per dimension]}` (JAX arrays only)."""
    found = {}
    for variable in classifier.weights:
        sharding = getattr(variable.value, "sharding", None)
        spec = list(getattr(sharding, "spec", ()))
        found[variable.path] = spec + [None] * (len(variable.shape) - len(spec))
    return found


result = {
    "backend": keras.backend.backend(),
    "mode": MODE,
    "tokens": {name: value.tolist() for name, value in TOKENS.items()},
}
single = build()
result["single_losses"] = train(single)
result["single_logits"] = logits(single)

with distributed_scope():
    distributed = build()
    result["devices"] = (
        keras.distribution.list_devices() if MODE != "mirrored" else ["/cpu:0", "/cpu:1"]
    )
    result["distributed_losses"] = train(distributed)
    result["distributed_logits"] = logits(distributed)
    if MODE != "mirrored":
        result["shardings"] = shardings(distributed)
    keras_adapters.save_adapter(distributed, OUT / "adapter")

with contextlib.ExitStack():  # back on one device, as a user reloading the file
    fresh = make_text_classifier(seed=0, preprocessor=False)
    keras_adapters.load_adapter(fresh, OUT / "adapter")
    result["reloaded_logits"] = logits(fresh)

if MODE == "mirrored":
    import keras_adapters.export  # noqa: E402

    distributed.preprocessor = PREPROCESSOR
    path = keras_adapters.export.export_text_classifier(
        distributed, OUT / "served" / "1", label_names=LABEL_NAMES
    )
    outputs = keras_adapters.export.verify_saved_model(path, TEXTS[:4])
    result["served_logits"] = np.asarray(outputs["logits"], dtype="float64").tolist()

(OUT / "result.json").write_text(json.dumps(result))
