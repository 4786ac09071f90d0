"""Training with `fit`: XLA, mixed precision, and models compiled before the rewrite."""

import keras
import numpy as np
import pytest

import keras_adapters
from tests.support.tiny_models import (
    make_classifier,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

CONFIGS = {
    "lora": keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"]),
    "dora": keras_adapters.DoraConfig(rank=2),
    "ia3": keras_adapters.IA3Config(modules_to_save=["logits"]),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2, modules_to_save=["logits"]),
    "pfeiffer": keras_adapters.PfeifferConfig(bottleneck_dim=2),
    "parallel": keras_adapters.ParallelConfig(bottleneck_dim=2),
    "prefix": keras_adapters.PrefixConfig(
        num_prefix_tokens=2, reparameterize=True, projection_dim=4
    ),
}


def _data(batch=16):
    x = make_inputs(batch=batch, length=6)
    y = (x["token_ids"][:, 0] % 2).astype("int32")
    return x, y


def _compile(model, jit_compile=True):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )


def _moved(before, model):
    return sorted(p for p, w in weights_by_path(model).items() if not np.array_equal(w, before[p]))


@pytest.mark.parametrize("method", list(CONFIGS))
def test_xla_fit_moves_only_adapter_weights(method):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS[method], "a", verbose=False)
    _compile(classifier, jit_compile=True)
    before = weights_by_path(classifier)
    x, y = _data()
    classifier.fit(x, y, batch_size=8, epochs=2, verbose=0)
    moved = _moved(before, classifier)
    trainable = sorted(v.path for v in classifier.trainable_weights)
    assert moved and set(moved) <= set(trainable)
    head = {"logits/kernel", "logits/bias"}
    adapters = set(trainable) - head
    assert all(f"/{method}/" in p or "/lora/" in p for p in adapters)
    assert (head <= set(trainable)) == bool(CONFIGS[method].modules_to_save)


def test_mixed_bfloat16_trains_float32_adapter_weights():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        classifier = make_classifier()
        keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
        adapter_weights = [v for v in classifier.trainable_weights if "/lora/" in v.path]
        assert adapter_weights and {v.dtype for v in adapter_weights} == {"float32"}
        _compile(classifier, jit_compile=True)
        before = weights_by_path(classifier)
        x, y = _data()
        history = classifier.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        moved = _moved(before, classifier)
        assert moved and set(moved) <= {v.path for v in classifier.trainable_weights}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_model_trained_before_the_rewrite_is_recompiled_for_the_new_variables():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
    _compile(classifier, jit_compile=False)
    x, y = _data()
    classifier.fit(x, y, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="recompiled"):
        keras_adapters.add_adapter(classifier, CONFIGS["houlsby"], "b", verbose=False)
    assert classifier.jit_compile is False  # the recompiled model keeps the user's settings
    assert isinstance(classifier.optimizer, keras.optimizers.Adam)
    before = weights_by_path(classifier)
    classifier.fit(x, y, epochs=1, verbose=0)
    moved = _moved(before, classifier)
    assert any("/houlsby/" in p for p in moved)
    assert not any("/lora/" in p for p in moved)


def test_switching_adapters_retraces_prediction():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["houlsby"], "a", verbose=False)
    randomize_adapters(classifier)
    x, _ = _data(4)
    with_adapter = classifier.predict(x, verbose=0)
    keras_adapters.disable_adapters(classifier)
    without = classifier.predict(x, verbose=0)
    assert not np.allclose(with_adapter, without)


def test_merge_and_disable_keep_the_optimizer_and_its_state(recwarn):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
    _compile(classifier, jit_compile=False)
    x, y = _data()
    classifier.fit(x, y, epochs=1, verbose=0)
    optimizer = classifier.optimizer
    iterations = int(optimizer.iterations.numpy())
    keras_adapters.merge_adapters(classifier)
    keras_adapters.unmerge_adapters(classifier)  # the optimizer already knows these variables
    keras_adapters.disable_adapters(classifier)
    keras_adapters.enable_adapters(classifier)
    assert classifier.optimizer is optimizer and int(optimizer.iterations.numpy()) == iterations
    assert not [w for w in recwarn if "recompiled" in str(w.message)]
    classifier.fit(x, y, epochs=1, verbose=0)
