"""The three bottleneck placements, each on a standalone base layer."""

import keras
import numpy as np

from keras_adapters.layers import (
    BottleneckAdapter,
    LayerChain,
    ParallelAdapterSite,
    PostNormAdapterSite,
    SerialAdapterSite,
)
from tests.support.numpy_reference import bottleneck, layer_norm
from tests.support.tiny_models import module_weights

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 8)).astype("float32")


def _adapter(**kwargs):
    adapter = BottleneckAdapter(bottleneck_dim=3, **kwargs)
    adapter.build((None, 8))
    for v in adapter.weights:
        v.assign(RNG.normal(size=v.shape).astype("float32"))
    return adapter, module_weights(adapter)


def test_serial_site_adds_adapter_of_base_output():
    base = keras.layers.Dense(8)
    base.build((None, 8))
    adapter, w = _adapter(activation="swish")
    site = SerialAdapterSite(base, adapters={"a": adapter})
    h = np.array(base(X))
    np.testing.assert_allclose(site(X), h + bottleneck(h, w, "swish", 1.0), atol=1e-5)


def test_post_norm_site_reapplies_the_same_layer_norm():
    norm = keras.layers.LayerNormalization(epsilon=1e-6)
    norm.build((None, 8))
    norm.gamma.assign(RNG.normal(size=8).astype("float32"))
    adapter, w = _adapter()
    site = PostNormAdapterSite(norm, adapters={"a": adapter})
    gamma, beta = norm.gamma.numpy(), norm.beta.numpy()
    t = layer_norm(X, gamma, beta, 1e-6)
    expected = layer_norm(X + bottleneck(t, w, "relu", 1.0), gamma, beta, 1e-6)
    np.testing.assert_allclose(site(X), expected, atol=1e-5)


def test_parallel_site_reads_branch_input():
    first, second = keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)
    first.build((None, 8))
    second.build((None, 16))
    adapter, w = _adapter(scaling=4.0)
    chain = LayerChain({"ffn_intermediate": first, "ffn_output": second})
    site = ParallelAdapterSite(chain, adapters={"a": adapter})
    branch = np.array(second(first(X)))
    np.testing.assert_allclose(site(X), branch + bottleneck(X, w, "relu", 4.0), atol=1e-5)


def test_inactive_sites_compute_their_base_exactly():
    norm = keras.layers.LayerNormalization()
    norm.build((None, 8))
    site = PostNormAdapterSite(norm, adapters={"a": _adapter()[0]}, active_adapters=[])
    np.testing.assert_array_equal(site(X), norm(X))


def test_sites_serialize_inside_a_functional_model(tmp_path):
    base = keras.layers.Dense(8)
    site = SerialAdapterSite(base, adapters={"a": _adapter()[0]})
    inputs = keras.Input((3, 8))
    model = keras.Model(inputs, site(inputs))
    model.save(str(tmp_path / "serial_site.keras"))
    restored = keras.models.load_model(str(tmp_path / "serial_site.keras"))
    np.testing.assert_allclose(restored(X), model(X), atol=1e-6)
