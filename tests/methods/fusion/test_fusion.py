"""AdapterFusion: attention over frozen adapters' outputs, exact against NumPy; only its weights train."""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import BottleneckAdapter, FusionLayer, SerialAdapterSite
from tests.support import numpy_reference as ref
from tests.support.tiny_models import (
    make_classifier,
    make_inputs,
    module_weights,
    randomize_adapters,
    weights_by_path,
)

RNG = np.random.default_rng(0)


def _randomized(layer):
    for v in layer.weights:
        v.assign(RNG.normal(scale=0.5, size=v.shape).astype("float32"))
    return layer


def _fusion_reference(z, outputs, w, temperature=1.0):
    query = z @ w["query_kernel"] + w["query_bias"]
    stacked = np.stack(outputs, axis=-2)
    keys = stacked @ w["key_kernel"] + w["key_bias"]
    weights = ref.softmax((keys * query[..., None, :]).sum(-1) / temperature)
    return ((stacked @ w["value_kernel"]) * weights[..., None]).sum(-2)


def test_fusion_layer_matches_numpy_and_starts_near_the_average():
    z = RNG.normal(size=(2, 3, 6)).astype("float32")
    outputs = [RNG.normal(size=(2, 3, 6)).astype("float32") for _ in range(3)]
    fresh = FusionLayer(["a", "b", "c"])
    fresh.build(z.shape)
    np.testing.assert_allclose(fresh(z, outputs), np.mean(outputs, axis=0), atol=0.05)
    layer = _randomized(FusionLayer(["a", "b", "c"], temperature=2.0))
    layer.build(z.shape)
    _randomized(layer)
    expected = _fusion_reference(z, outputs, module_weights(layer), temperature=2.0)
    np.testing.assert_allclose(layer(z, outputs), expected, atol=1e-5)


def test_site_applies_fusion_over_inactive_adapters():
    site = SerialAdapterSite(keras.layers.Dense(6), location="site")
    site.base_layer.build((None, 6))
    for name in ("a", "b"):
        module = BottleneckAdapter(2)
        module.build((None, 6))
        site.add_adapter(name, _randomized(module))
    fusion = FusionLayer(["a", "b"])
    fusion.build((None, 6))
    site.add_adapter("f", _randomized(fusion))
    site.active_adapters = ["f"]
    x = RNG.normal(size=(4, 6)).astype("float32")
    y = np.asarray(site.base_layer(x))
    outputs = [np.asarray(site.get_adapter(n)(y)) for n in ("a", "b")]
    expected = y + _fusion_reference(y, outputs, module_weights(fusion))
    np.testing.assert_allclose(site(x), expected, atol=1e-5)


def _model_with_two_adapters():
    classifier = make_classifier()
    for name in ("sst2", "imdb"):
        keras_adapters.add_adapter(
            classifier, keras_adapters.PfeifferConfig(bottleneck_dim=2), name, verbose=False
        )
    randomize_adapters(classifier)
    return classifier


def test_only_fusion_weights_train_and_fused_adapters_cannot_be_deleted():
    classifier = _model_with_two_adapters()
    config = keras_adapters.FusionConfig(adapters=("sst2", "imdb"))
    keras_adapters.add_adapter(classifier, config, "fusion", verbose=False)
    trainable = {v.path for v in classifier.trainable_weights}
    assert trainable and all("/fusion/fusion/" in p for p in trainable)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    before = weights_by_path(classifier)
    x = make_inputs(batch=8)
    classifier.fit(x, np.arange(8) % 2, epochs=2, verbose=0)
    moved = [p for p, w in weights_by_path(classifier).items() if not np.array_equal(w, before[p])]
    assert moved and all("/fusion/fusion/" in p for p in moved)
    with pytest.raises(ValueError, match=r"Adapters \['fusion'\] use 'imdb'"):
        keras_adapters.delete_adapter(classifier, "imdb")


def test_fusion_files_and_keras_round_trip(tmp_path):
    classifier = _model_with_two_adapters()
    keras_adapters.add_adapter(
        classifier, keras_adapters.FusionConfig(adapters=("sst2", "imdb")), "fusion", verbose=False
    )
    randomize_adapters(classifier)
    for variable in classifier.weights:
        if "/fusion/fusion/" in variable.path:
            variable.assign(RNG.normal(scale=0.5, size=variable.shape).astype("float32"))
    x = make_inputs()
    expected = np.asarray(classifier(x))
    for name in ("sst2", "imdb", "fusion"):
        keras_adapters.save_adapter(classifier, tmp_path / name, adapter_name=name)
    fresh = make_classifier()
    with pytest.raises(ValueError, match="are not adapters of this model"):
        keras_adapters.load_adapter(fresh, tmp_path / "fusion")
    for name in ("sst2", "imdb", "fusion"):
        keras_adapters.load_adapter(fresh, tmp_path / name)
    np.testing.assert_allclose(fresh(x), expected, atol=1e-5)
    classifier.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(restored(x), expected, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adapters": ("a",)}, "two or more distinct adapters"),
        ({"adapters": ("a", "a")}, "two or more distinct adapters"),
        ({"adapters": ("a", "b"), "temperature": 0}, "Received: temperature=0"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_adapters.FusionConfig(**kwargs)


def test_fusion_needs_bottleneck_adapters_sharing_sites():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    keras_adapters.add_adapter(
        classifier, keras_adapters.HoulsbyConfig(bottleneck_dim=2), "houlsby", verbose=False
    )
    before = [v.path for v in classifier.weights]
    for adapters, message in (
        (("lora", "houlsby"), "are not"),
        (("houlsby", "nope"), "not adapters"),
    ):
        with pytest.raises(ValueError, match=message):
            keras_adapters.add_adapter(
                classifier, keras_adapters.FusionConfig(adapters=adapters), "f", verbose=False
            )
    assert [v.path for v in classifier.weights] == before
