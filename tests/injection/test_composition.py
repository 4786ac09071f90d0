"""`Stack` composition and frozen active adapters (two-stage training)."""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import BottleneckAdapter, SerialAdapterSite
from tests.support.tiny_models import (
    make_classifier,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

RNG = np.random.default_rng(0)


def _site():
    site = SerialAdapterSite(keras.layers.Dense(6), location="site")
    site.base_layer.build((None, 6))
    for name in ("a", "b"):
        module = BottleneckAdapter(3)
        module.build((None, 6))
        for v in module.weights:
            v.assign(RNG.normal(scale=0.5, size=v.shape).astype("float32"))
        site.add_adapter(name, module)
    site.active_adapters = ["a", "b"]
    return site


def test_stack_chains_and_parallel_sums():
    site = _site()
    x = RNG.normal(size=(4, 6)).astype("float32")
    y = np.asarray(site.base_layer(x))
    a, b = site.get_adapter("a"), site.get_adapter("b")
    site.composition = "parallel"
    np.testing.assert_allclose(site(x), y + a(y) + b(y), atol=1e-5)
    site.composition = "stack"
    u = y + np.asarray(a(y))
    np.testing.assert_allclose(site(x), u + b(u), atol=1e-5)


def _two_stage_model():
    classifier = make_classifier()
    keras_adapters.add_adapter(
        classifier, keras_adapters.PfeifferConfig(bottleneck_dim=2), "language", verbose=False
    )
    keras_adapters.add_adapter(
        classifier,
        keras_adapters.PfeifferConfig(bottleneck_dim=2, modules_to_save=["logits"]),
        "task",
        verbose=False,
    )
    randomize_adapters(classifier)
    return classifier


def test_stack_with_a_frozen_first_adapter_trains_only_the_second(tmp_path):
    classifier = _two_stage_model()
    x = make_inputs(batch=8)
    keras_adapters.set_active_adapters(classifier, ["language", "task"])
    parallel = np.asarray(classifier(x))
    keras_adapters.set_active_adapters(
        classifier, keras_adapters.Stack("language", "task"), train=["task"]
    )
    stacked = np.asarray(classifier(x))
    assert not np.allclose(stacked, parallel)
    report = keras_adapters.trainable_report(classifier)
    assert "language" in report.frozen and "(active, frozen)" in str(report)
    trainable = {v.path for v in classifier.trainable_weights}
    assert trainable and all("/task/" in p or p.startswith("logits/") for p in trainable)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = weights_by_path(classifier)
    classifier.fit(x, np.arange(8) % 2, epochs=2, verbose=0)
    moved = [p for p, w in weights_by_path(classifier).items() if not np.array_equal(w, before[p])]
    assert moved and not any("/language/" in p for p in moved)
    classifier.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored(x), classifier(x), atol=1e-5)
    assert keras_adapters.trainable_report(restored).frozen == ("language",)


def test_bad_composition_input():
    classifier = _two_stage_model()
    with pytest.raises(ValueError, match="two or more adapter names"):
        keras_adapters.Stack("language")
    with pytest.raises(ValueError, match=r"Received: train=\['other'\]"):
        keras_adapters.set_active_adapters(classifier, ["language", "task"], train=["other"])
