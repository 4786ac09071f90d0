"""adapter_layout_map: base matrices split along the model axis, adapter weights replicated."""

import keras
import numpy as np
import pytest

import keras_adapters
from tests.support.tiny_models import make_classifier

CONFIGS = {
    "lora": keras_adapters.LoraConfig(rank=2, targets="all-linear"),
    "dora": keras_adapters.DoraConfig(rank=2),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2),  # adapters with Dense kernels
    "prefix": keras_adapters.PrefixConfig(num_prefix_tokens=2, reparameterize=True),
}


def _mesh(model_size, batch_size=1):
    devices = [f"cpu:{i}" for i in range(batch_size * model_size)]
    return keras.distribution.DeviceMesh((batch_size, model_size), ["batch", "model"], devices)


def _axes(layout_map, path):
    layout = layout_map[path]
    return None if layout is None else tuple(layout.axes)


def _adapted(config, name="task"):
    model = make_classifier("bert")
    keras_adapters.add_adapter(model, config, name, verbose=False)
    return model


@pytest.mark.parametrize("method", list(CONFIGS))
def test_adapter_weights_are_replicated_and_base_matrices_split(method):
    model = _adapted(CONFIGS[method])
    layout_map = keras_adapters.adapter_layout_map(model, _mesh(2))
    adapter_paths = [v.path for v in model.weights if f"/{method}/task/" in v.path]
    assert adapter_paths  # the method's weights are there to check
    for variable in model.weights:
        axes = _axes(layout_map, variable.path)
        if variable.path in adapter_paths:
            assert axes == (None,) * len(variable.shape), variable.path
        elif len(variable.shape) < 2:
            assert axes is None, variable.path  # unlisted: ModelParallel replicates it
        else:
            # Split once, on the largest dimension 2 divides (the last on a tie).
            shape = np.array(variable.shape)
            expected = int(np.flatnonzero(shape == shape[shape % 2 == 0].max())[-1])
            assert axes == tuple("model" if i == expected else None for i in range(len(shape)))


def test_known_layouts_of_a_tiny_bert():
    # vocabulary 60, hidden 8, intermediate 16, 2 heads of 4, 2 classes.
    model = _adapted(keras_adapters.LoraConfig(rank=2))
    for size, expected in {
        2: {
            "token_embedding/embeddings": ("model", None),  # (60, 8)
            "transformer_layer_0/feedforward_intermediate_dense/kernel": (None, "model"),
            "transformer_layer_0/feedforward_output_dense/kernel": ("model", None),
            "transformer_layer_0/self_attention_layer/query/kernel": ("model", None, None),
            "logits/kernel": ("model", None),  # (8, 2): the hidden side
            "transformer_layer_0/self_attention_layer/query/lora/task/lora_a": (None, None),
        },
        3: {
            "token_embedding/embeddings": ("model", None),  # 60 = 3 x 20
            "transformer_layer_0/feedforward_intermediate_dense/kernel": None,  # 8, 16: no
            "transformer_layer_0/self_attention_layer/query/lora/task/lora_a": (None, None),
        },
    }.items():
        layout_map = keras_adapters.adapter_layout_map(model, _mesh(size))
        assert {path: _axes(layout_map, path) for path in expected} == expected


def test_keys_are_the_paths_of_the_next_build():
    layout_map = keras_adapters.adapter_layout_map(
        _adapted(keras_adapters.LoraConfig(rank=2)), _mesh(2)
    )
    again = _adapted(keras_adapters.LoraConfig(rank=2))
    matrices = {v.path for v in again.weights if len(v.shape) >= 2}
    assert set(layout_map.keys()) == matrices


def test_model_without_adapters_only_splits_base_matrices():
    model = make_classifier("bert")
    layout_map = keras_adapters.adapter_layout_map(model, _mesh(2, batch_size=2))
    assert set(layout_map.keys()) == {v.path for v in model.weights if len(v.shape) >= 2}
    assert all(layout.axes.count("model") == 1 for layout in layout_map.values())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(model="model"), "`model` must be a `keras.Model`. Received: model='model'"),
        (dict(device_mesh=("batch", "model")), "`device_mesh` must be a"),
        (dict(model_axis="heads"), r"model_axis='heads'; valid: \['batch', 'model'\]"),
        (dict(model=keras.Sequential([keras.layers.Dense(2)])), "`model` must be built"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    arguments = {"model": make_classifier("bert"), "device_mesh": _mesh(2), **kwargs}
    with pytest.raises(ValueError, match=match):
        keras_adapters.adapter_layout_map(**arguments)
