"""`.keras` round trips keep adapters, their weights, their state and trainability."""

import keras
import numpy as np
import pytest

import keras_adapters
from tests.support.tiny_models import (
    make_backbone,
    make_classifier,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

CONFIGS = {
    "lora": keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"]),
    "dora": keras_adapters.DoraConfig(rank=2, targets=["key", "ffn_output"]),
    "ia3": keras_adapters.IA3Config(),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2),
    "pfeiffer": keras_adapters.PfeifferConfig(bottleneck_dim=2),
    "parallel": keras_adapters.ParallelConfig(bottleneck_dim=2),
    "prefix": keras_adapters.PrefixConfig(num_prefix_tokens=2),
}


def _round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path)


@pytest.mark.parametrize("kind", ["bert", "roberta", "distil_bert"])
@pytest.mark.parametrize("method", list(CONFIGS))
def test_round_trip_keeps_predictions_and_trainability(method, kind, tmp_path):
    classifier = make_classifier(kind)
    keras_adapters.add_adapter(classifier, CONFIGS[method], "a", verbose=False)
    randomize_adapters(classifier)
    restored = _round_trip(classifier, tmp_path)
    x = make_inputs(kind)
    np.testing.assert_allclose(restored(x), classifier(x), atol=1e-6)
    assert type(restored) is type(classifier)
    assert keras_adapters.list_adapters(restored) == keras_adapters.list_adapters(classifier)
    assert sorted(v.path for v in restored.trainable_weights) == sorted(
        v.path for v in classifier.trainable_weights
    )


def test_fit_after_reload_changes_only_adapter_weights(tmp_path):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["houlsby"], "a", verbose=False)
    restored = _round_trip(classifier, tmp_path)
    restored.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = weights_by_path(restored)
    x = make_inputs(batch=8)
    restored.fit(x, np.arange(8) % 2, epochs=2, verbose=0)
    moved = [p for p, w in weights_by_path(restored).items() if not np.array_equal(w, before[p])]
    assert moved and all("/houlsby/" in p for p in moved)


def test_state_round_trips_several_adapters_disabled_and_merged(tmp_path):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "lora", verbose=False)
    keras_adapters.add_adapter(classifier, CONFIGS["parallel"], "par", verbose=False)
    keras_adapters.add_adapter(classifier, CONFIGS["prefix"], "pre", verbose=False)
    keras_adapters.delete_adapter(classifier, "pre")
    randomize_adapters(classifier)
    keras_adapters.set_active_adapters(classifier, ["lora", "par"])
    keras_adapters.merge_adapters(classifier)
    x = make_inputs()
    restored = _round_trip(classifier, tmp_path)
    assert keras_adapters.list_adapters(restored) == {
        "lora": {"method": "lora", "active": True, "merged": True},
        "par": {"method": "parallel", "active": True, "merged": False},
    }
    np.testing.assert_allclose(restored(x), classifier(x), atol=1e-6)
    keras_adapters.unmerge_adapters(restored)
    keras_adapters.unmerge_adapters(classifier)
    for path, value in weights_by_path(restored).items():
        np.testing.assert_allclose(value, weights_by_path(classifier)[path], atol=1e-6)
    keras_adapters.disable_adapters(classifier)
    again = _round_trip(classifier, tmp_path)
    np.testing.assert_allclose(again(x), classifier(x), atol=1e-6)
    assert not any(a["active"] for a in keras_adapters.list_adapters(again).values())


def test_backbone_alone_and_inside_a_functional_model(tmp_path):
    backbone = make_backbone()
    keras_adapters.add_adapter(backbone, CONFIGS["houlsby"], "a", verbose=False)
    randomize_adapters(backbone)
    x = make_inputs()
    restored = _round_trip(backbone, tmp_path)
    np.testing.assert_allclose(
        restored(x)["sequence_output"], backbone(x)["sequence_output"], atol=1e-6
    )

    fresh = make_backbone()
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in x}
    outputs = keras.layers.Dense(3, name="head")(fresh(inputs)["pooled_output"])
    model = keras.Model(inputs, outputs)
    keras_adapters.add_adapter(
        model, CONFIGS["lora"].replace(modules_to_save=["head"]), "a", verbose=False
    )
    randomize_adapters(model)
    restored = _round_trip(model, tmp_path)
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)
    assert sorted(v.path for v in restored.trainable_weights) == sorted(
        v.path for v in model.trainable_weights
    )


def test_deleting_every_adapter_saves_a_plain_model(tmp_path):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
    keras_adapters.delete_adapter(classifier, "a")
    restored = _round_trip(classifier, tmp_path)
    assert type(restored).__name__ == "BertTextClassifier"
