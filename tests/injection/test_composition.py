"""`Stack` composition and frozen active adapters (two-stage training)."""

import keras
import keras_hub
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import BottleneckAdapter, SerialAdapterSite
from tests.support import numpy_reference as ref
from tests.support.tiny_models import (
    block_weights,
    make_backbone,
    make_classifier,
    make_inputs,
    module_weights,
    randomize_adapters,
    randomize_weights,
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


def test_stacked_backbone_matches_numpy_reference():
    """`Stack("language", "task")`: in every block the task adapter reads the language one's output."""
    backbone = randomize_weights(make_backbone())
    config = keras_adapters.PfeifferConfig(bottleneck_dim=3)
    for name in ("language", "task"):
        keras_adapters.add_adapter(backbone, config, name, verbose=False)
    randomize_adapters(backbone)
    x = make_inputs(batch=3)
    tokens = backbone.token_embedding(x["token_ids"])
    embedded = tokens + backbone.position_embedding(tokens)
    embedded = embedded + backbone.segment_embedding(x["segment_ids"])
    embedded = np.array(backbone.embeddings_layer_norm(embedded), "float64")
    real = x["padding_mask"].astype(bool)

    def reference(order):
        hidden = embedded
        for block in backbone.transformer_layers:
            site = block._feedforward_layer_norm
            stack = [
                (module_weights(site.get_adapter(n)), config.activation, config.scaling)
                for n in order
            ]
            dense = block._feedforward_intermediate_dense
            hidden = ref.encoder_block(
                hidden,
                x["padding_mask"],
                block_weights(block),
                block.layer_norm_epsilon,
                lambda t, dense=dense: np.array(dense.activation(t)),
                {"pfeiffer": stack},
            )
        return hidden[real]

    for order in (("language", "task"), ("task", "language")):
        keras_adapters.set_active_adapters(backbone, keras_adapters.Stack(*order))
        got = np.array(backbone(x)["sequence_output"])[real]
        np.testing.assert_allclose(got, reference(order), atol=1e-4)
    assert not np.allclose(reference(("language", "task")), reference(("task", "language")))


def test_adapters_added_through_another_model_sharing_the_backbone_are_refused():
    backbone = make_backbone()
    keras_adapters.add_adapter(
        backbone, keras_adapters.PfeifferConfig(bottleneck_dim=2), "domain", verbose=False
    )
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    weights = [v.path for v in classifier.weights]
    config = keras_adapters.PfeifferConfig(bottleneck_dim=2, modules_to_save=["logits"])
    with pytest.raises(ValueError, match=r"holds adapters \['domain'\] that were added through"):
        keras_adapters.add_adapter(classifier, config, "task", verbose=False)
    assert [v.path for v in classifier.weights] == weights
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.list_adapters(classifier)
    keras_adapters.add_adapter(backbone, config.replace(modules_to_save=()), "task", verbose=False)
    assert list(keras_adapters.list_adapters(backbone)) == ["domain", "task"]
