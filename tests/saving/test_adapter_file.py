"""Adapter-only files: round trip, keys, atomic writes, and refusing foreign files."""

import json
import os

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.injection.adapter_state import get_state
from tests.support.tiny_models import make_classifier, make_inputs, randomize_adapters

CONFIGS = {
    "lora": keras_adapters.LoraConfig(
        rank=2, targets=["query", "value", "ffn_intermediate"], modules_to_save=["logits"]
    ),
    "dora": keras_adapters.DoraConfig(rank=2, targets=["value", "attention_output"]),
    "ia3": keras_adapters.IA3Config(modules_to_save=["logits"]),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2, layer_norm=True),
    "pfeiffer": keras_adapters.PfeifferConfig(bottleneck_dim=2, layers=[1]),
    "parallel": keras_adapters.ParallelConfig(bottleneck_dim=2),
    "prefix": keras_adapters.PrefixConfig(
        num_prefix_tokens=2, reparameterize=True, projection_dim=4
    ),
}


def _trained(method, kind="bert"):
    classifier = make_classifier(kind)
    keras_adapters.add_adapter(classifier, CONFIGS[method], "task", verbose=False)
    randomize_adapters(classifier)
    if CONFIGS[method].modules_to_save:  # trained head: saved with the adapter
        classifier.get_layer("logits").bias.assign(np.array([0.3, -0.2], "float32"))
    return classifier


@pytest.mark.parametrize("method", list(CONFIGS))
def test_save_then_load_gives_the_same_predictions(method, tmp_path):
    source = _trained(method)
    keras_adapters.save_adapter(source, tmp_path / "adapter")
    target = make_classifier(seed=0)  # same base weights, fresh head
    keras_adapters.load_adapter(target, tmp_path / "adapter")
    x = make_inputs()
    np.testing.assert_allclose(target(x), source(x), atol=1e-6)
    assert keras_adapters.list_adapters(target) == {
        "task": {"method": method, "active": True, "merged": False}
    }
    assert sorted(v.path for v in target.trainable_weights) == sorted(
        v.path for v in source.trainable_weights
    )


def test_file_is_keyed_by_layer_path_and_holds_the_config(tmp_path):
    source = _trained("lora")
    keras_adapters.save_adapter(source, tmp_path / "a")
    assert sorted(os.listdir(tmp_path / "a")) == [
        "adapter_config.json",
        "adapter_weights.safetensors",
    ]
    config = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert config["backbone"] == "BertBackbone" and config["config"]["method"] == "lora"
    tensors = safetensors.numpy.load_file(str(tmp_path / "a" / "adapter_weights.safetensors"))
    assert "transformer_layer_1/self_attention_layer/value/lora_b" in tensors
    assert "transformer_layer_0/feedforward_intermediate_dense/lora_a" in tensors
    assert "modules_to_save/logits/kernel" in tensors
    assert config["weights"]["transformer_layer_1/self_attention_layer/value/lora_b"] == [2, 2, 4]
    expected = sum(int(np.prod(v.shape)) for v in source.trainable_weights)
    assert sum(t.size for t in tensors.values()) == expected


def test_load_under_another_name_next_to_existing_adapter(tmp_path):
    source = _trained("houlsby")
    keras_adapters.save_adapter(source, tmp_path / "h")
    target = make_classifier()
    keras_adapters.add_adapter(target, CONFIGS["lora"], "lora", verbose=False)
    keras_adapters.load_adapter(target, tmp_path / "h", adapter_name="second")
    assert list(keras_adapters.list_adapters(target)) == ["lora", "second"]
    np.testing.assert_allclose(target(make_inputs()), source(make_inputs()), atol=1e-6)


def _snapshot(model):
    return (type(model), [v.path for v in model.weights], [v.numpy().copy() for v in model.weights])


def _assert_same(model, snapshot):
    cls, paths, values = snapshot
    assert type(model) is cls and [v.path for v in model.weights] == paths
    for v, before in zip(model.weights, values):
        np.testing.assert_array_equal(v.numpy(), before)


def test_shape_mismatch_names_paths_and_changes_nothing(tmp_path):
    keras_adapters.save_adapter(_trained("lora"), tmp_path / "a")
    target = make_classifier(hidden_dim=16)
    snapshot = _snapshot(target)
    with pytest.raises(ValueError) as error:
        keras_adapters.load_adapter(target, tmp_path / "a")
    message = str(error.value)
    assert (
        "shape of transformer_layer_0/self_attention_layer/query/lora_a: file (8, 2), model (16, 2)"
        in message
    )
    _assert_same(target, snapshot)
    assert get_state(target) is None


def test_other_architecture_and_missing_layers_are_refused(tmp_path):
    keras_adapters.save_adapter(_trained("lora"), tmp_path / "a")
    roberta = make_classifier("roberta")
    with pytest.raises(
        ValueError, match="saved from a BertBackbone; this model's backbone is a RobertaBackbone"
    ):
        keras_adapters.load_adapter(roberta, tmp_path / "a")
    shallow = make_classifier(num_layers=1)
    snapshot = _snapshot(shallow)
    with pytest.raises(
        ValueError, match="not in model: transformer_layer_1/self_attention_layer/query/lora_a"
    ):
        keras_adapters.load_adapter(shallow, tmp_path / "a")
    _assert_same(shallow, snapshot)


def test_name_clash_and_missing_files(tmp_path):
    source = _trained("lora")
    keras_adapters.save_adapter(source, tmp_path / "a")
    with pytest.raises(ValueError, match="'task' is already used"):
        keras_adapters.load_adapter(source, tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="Received: path="):
        keras_adapters.load_adapter(make_classifier(), tmp_path / "nothing")
    with pytest.raises(ValueError, match="adapter_name"):
        keras_adapters.save_adapter(source, tmp_path / "b", adapter_name="nope")


def test_write_is_atomic_and_keeps_the_previous_adapter_on_failure(tmp_path, monkeypatch):
    source = _trained("lora")
    keras_adapters.save_adapter(source, tmp_path / "a")
    before = (tmp_path / "a" / "adapter_weights.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", crash)
    randomize_adapters(source, seed=9)
    with pytest.raises(OSError, match="disk full"):
        keras_adapters.save_adapter(source, tmp_path / "a")
    assert (tmp_path / "a" / "adapter_weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_refuses_to_overwrite_a_directory_that_is_not_an_adapter(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.txt").write_text("irreplaceable")
    with pytest.raises(FileExistsError, match="refusing to replace it"):
        keras_adapters.save_adapter(_trained("lora"), precious)
    assert (precious / "chapter1.txt").read_text() == "irreplaceable"
    keras_adapters.save_adapter(_trained("lora"), tmp_path / "adapter")
    with pytest.raises(FileExistsError, match="pass overwrite to replace it"):
        keras_adapters.save_adapter(_trained("lora"), tmp_path / "adapter", overwrite=False)


def test_corrupt_weights_file_is_a_clear_error(tmp_path):
    keras_adapters.save_adapter(_trained("lora"), tmp_path / "a")
    (tmp_path / "a" / "adapter_weights.safetensors").write_bytes(b"not a safetensors file")
    target = make_classifier()
    snapshot = _snapshot(target)
    with pytest.raises(ValueError, match="Cannot read the safetensors file"):
        keras_adapters.load_adapter(target, tmp_path / "a")
    _assert_same(target, snapshot)
