"""The MAM adapter equals a prefix adapter and a scaled parallel adapter active together."""

import numpy as np
import pytest

import keras_adapters
from tests.support import tiny_decoders
from tests.support.tiny_models import make_backbone, make_inputs, randomize_adapters

CONFIG = keras_adapters.MamConfig(num_prefix_tokens=3, bottleneck_dim=2, scaling=4.0)
PARTS = [
    ("p", keras_adapters.PrefixConfig(num_prefix_tokens=3)),
    ("q", keras_adapters.ParallelConfig(bottleneck_dim=2, scaling=4.0)),
]


def _models(kind):
    if kind == "llama3":
        return tiny_decoders.make_backbone("llama3"), tiny_decoders.make_backbone("llama3")
    return make_backbone(kind), make_backbone(kind)


def _inputs(kind):
    return tiny_decoders.make_inputs() if kind == "llama3" else make_inputs(kind)


def _output(model, x):
    out = model(x)
    return np.asarray(out["sequence_output"] if isinstance(out, dict) else out)


@pytest.mark.parametrize("kind", ["bert", "llama3"])
def test_mam_is_its_two_parts_with_the_same_weights(kind):
    mam_model, parts_model = _models(kind)
    keras_adapters.add_adapter(mam_model, CONFIG, "mam", verbose=False)
    randomize_adapters(mam_model)
    for name, config in PARTS:
        keras_adapters.add_adapter(parts_model, config, name, verbose=False)
    keras_adapters.set_active_adapters(parts_model, ["p", "q"])
    values = {
        v.path.replace("/mam/mam/", "/"): v.numpy() for v in mam_model.weights if "/mam/" in v.path
    }
    for v in parts_model.weights:
        for part in ("/prefix/p/", "/parallel/q/"):
            if part in v.path:
                v.assign(values[v.path.replace(part, "/")])
    x = _inputs(kind)
    np.testing.assert_allclose(_output(mam_model, x), _output(parts_model, x), atol=1e-5)
    report = keras_adapters.trainable_report(mam_model)
    parts = keras_adapters.trainable_report(parts_model)
    assert report.adapters["mam"][1] == parts.adapters["p"][1] + parts.adapters["q"][1]


def test_mam_adapter_file_round_trip_and_fold(tmp_path):
    model = make_backbone("bert")
    config = keras_adapters.MamConfig(
        num_prefix_tokens=2, reparameterize=True, projection_dim=4, bottleneck_dim=2
    )
    keras_adapters.add_adapter(model, config, "mam", verbose=False)
    randomize_adapters(model)
    x = make_inputs("bert")
    before = _output(model, x)
    keras_adapters.eject_prefix(model, "mam")  # folds the prefix MLP, keeps the parallel half
    np.testing.assert_allclose(_output(model, x), before, atol=1e-5)
    keras_adapters.save_adapter(model, tmp_path / "mam")
    fresh = make_backbone("bert")
    keras_adapters.load_adapter(fresh, tmp_path / "mam")
    np.testing.assert_allclose(_output(fresh, x), before, atol=1e-5)
    assert keras_adapters.list_adapters(fresh)["mam"]["method"] == "mam"


def test_bad_parts_are_refused_with_their_own_messages():
    with pytest.raises(ValueError, match="Received: num_prefix_tokens=0"):
        keras_adapters.MamConfig(num_prefix_tokens=0)
    with pytest.raises(ValueError, match="Received: scaling=-1"):
        keras_adapters.MamConfig(scaling=-1)
