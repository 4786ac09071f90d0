import keras
import numpy as np
import pytest

from keras_adapters.layers import BottleneckAdapter
from tests.support.numpy_reference import bottleneck, layer_norm
from tests.support.tiny_models import module_weights

RNG = np.random.default_rng(0)


def _randomized(adapter, hidden=8):
    adapter.build((None, hidden))
    for v in adapter.weights:
        v.assign(RNG.normal(size=v.shape).astype("float32"))
    return module_weights(adapter)


def test_outputs_zero_at_initialisation():
    adapter = BottleneckAdapter(bottleneck_dim=4, activation="swish")
    x = RNG.normal(size=(2, 3, 8)).astype("float32")
    np.testing.assert_array_equal(adapter(x), np.zeros_like(x))


@pytest.mark.parametrize("activation", ["relu", "swish", "tanh", "gelu"])
def test_matches_numpy_reference(activation):
    adapter = BottleneckAdapter(bottleneck_dim=3, activation=activation, scaling=2.5)
    w = _randomized(adapter)
    x = RNG.normal(size=(2, 3, 8)).astype("float32")
    np.testing.assert_allclose(adapter(x), bottleneck(x, w, activation, 2.5), atol=1e-5)


def test_optional_layer_norm_normalizes_the_input():
    adapter = BottleneckAdapter(bottleneck_dim=3, layer_norm=True)
    w = _randomized(adapter)
    x = RNG.normal(size=(2, 3, 8)).astype("float32")
    normed = layer_norm(x, w["layer_norm_gamma"], w["layer_norm_beta"], 1e-5)
    np.testing.assert_allclose(adapter(x), bottleneck(normed, w, "relu", 1.0), atol=1e-5)


def test_dropout_only_in_training():
    adapter = BottleneckAdapter(bottleneck_dim=3, dropout=0.5)
    _randomized(adapter)
    x = np.ones((64, 8), "float32")
    assert not np.allclose(adapter(x, training=True), adapter(x, training=False))


def test_config_round_trip():
    adapter = BottleneckAdapter(bottleneck_dim=3, activation="tanh", scaling=2.0, layer_norm=True)
    clone = BottleneckAdapter.from_config(adapter.get_config())
    assert clone.get_config() == adapter.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bottleneck_dim": 0}, "Received: bottleneck_dim=0"),
        ({"bottleneck_dim": 2, "activation": "elu"}, "Received: activation='elu'"),
        ({"bottleneck_dim": 2, "dropout": 1.5}, "Received: dropout=1.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BottleneckAdapter(**kwargs)


def test_bottleneck_wider_than_hidden_is_refused():
    with pytest.raises(ValueError, match="at most the hidden size 8. Received: bottleneck_dim=9"):
        BottleneckAdapter(bottleneck_dim=9).build((None, 8))


def test_weights_are_float32_under_mixed_precision():
    adapter = BottleneckAdapter(bottleneck_dim=2, dtype="mixed_bfloat16")
    adapter.build((None, 8))
    assert {v.dtype for v in adapter.weights} == {"float32"}
    assert adapter(keras.ops.ones((1, 8), dtype="bfloat16")).dtype == "bfloat16"
