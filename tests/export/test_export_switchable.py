"""adapters='switchable': one signature per adapter, sharing the base weights."""

import json

import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
import keras_adapters.export
from keras_adapters.layers import AdapterWrapper
from tests.export.text_classifiers import (
    LABEL_NAMES,
    TEXTS,
    assert_unchanged,
    call_logits,
    make_text_classifier,
    predict_logits,
    randomized,
    snapshot,
    verify_concurrently,
)

LORA = keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"])
HOULSBY = keras_adapters.HoulsbyConfig(bottleneck_dim=2)
SIGNATURES = ["serving_default", "adapter_lora", "adapter_houlsby"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """LoRA + Houlsby (both active), exported switchable, each signature called afresh."""
    classifier = make_text_classifier(seed=1)
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    keras_adapters.add_adapter(classifier, HOULSBY, "houlsby", verbose=False)
    randomized(classifier)
    expected = {}
    for name in ("lora", "houlsby"):
        keras_adapters.set_active_adapters(classifier, name)
        expected[f"adapter_{name}"] = call_logits(classifier)
    keras_adapters.set_active_adapters(classifier, ["lora", "houlsby"])
    expected["serving_default"] = predict_logits(classifier)
    before = snapshot(classifier)
    path = keras_adapters.export.export_text_classifier(
        classifier,
        tmp_path_factory.mktemp("switchable") / "1",
        label_names=LABEL_NAMES,
        adapters="switchable",
    )
    outputs = verify_concurrently(
        {name: dict(path=path, texts=TEXTS, signature_name=name) for name in SIGNATURES}
    )
    return {
        "classifier": classifier,
        "expected": expected,
        "before": before,
        "path": path,
        "outputs": outputs,
    }


def test_the_three_logit_sets_differ(exported):
    expected = exported["expected"]
    for i, first in enumerate(SIGNATURES):
        for second in SIGNATURES[i + 1 :]:
            assert np.max(np.abs(expected[first] - expected[second])) > 0.05, (first, second)


@pytest.mark.parametrize("signature", SIGNATURES)
def test_each_signature_in_a_fresh_process(exported, signature):
    logits = exported["expected"][signature]
    outputs = exported["outputs"][signature]
    np.testing.assert_allclose(outputs["logits"], logits, atol=1e-5, rtol=0)
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1.0, atol=1e-6)
    assert outputs["label"] == [LABEL_NAMES[i] for i in logits.argmax(axis=-1)]


def test_signatures_share_one_copy_of_the_variables(exported):
    loaded = tf.saved_model.load(str(exported["path"]))
    assert sorted(loaded.signatures) == sorted(SIGNATURES)
    names = [v.name for v in loaded._all_variables]
    assert len(names) == len(set(names)) == len(exported["classifier"].weights)
    metadata_file = exported["path"] / "assets.extra" / "keras_adapters_export.json"
    signatures = json.loads(metadata_file.read_text())["signatures"]
    assert signatures["serving_default"]["active"] == ["lora", "houlsby"]
    assert signatures["adapter_lora"]["active"] == ["lora"]


def test_loaded_functions_agree_with_the_signatures(exported):
    # `tf.saved_model.save` traces endpoints again while writing; each must
    # still select its own adapter then.
    loaded = tf.saved_model.load(str(exported["path"]))
    texts = tf.constant(TEXTS)
    for name in SIGNATURES:
        from_signature = loaded.signatures[name](texts=texts)["logits"].numpy()
        from_function = getattr(loaded, name)(texts)["logits"].numpy()
        np.testing.assert_allclose(
            from_signature, exported["expected"][name], atol=1e-5, rtol=0, err_msg=name
        )
        np.testing.assert_array_equal(from_function, from_signature, err_msg=name)


def test_model_is_left_as_it_was(exported):
    assert_unchanged(exported["before"], snapshot(exported["classifier"]))
    np.testing.assert_array_equal(
        predict_logits(exported["classifier"]), exported["expected"]["serving_default"]
    )


def test_failure_while_tracing_an_adapter_restores_the_active_set(exported, tmp_path, monkeypatch):
    classifier = exported["classifier"]
    calls = []
    original_call = type(classifier).call

    def failing_call(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # tracing `adapter_lora`, with only "lora" active
            raise RuntimeError("boom")
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(type(classifier), "call", failing_call)
    with pytest.raises(RuntimeError, match="boom"):
        keras_adapters.export.export_text_classifier(
            classifier, tmp_path / "1", label_names=LABEL_NAMES, adapters="switchable"
        )
    monkeypatch.undo()
    assert len(calls) == 2
    assert_unchanged(exported["before"], snapshot(classifier))
    assert list(tmp_path.iterdir()) == []
    wrappers = [w for w in classifier._flatten_layers() if isinstance(w, AdapterWrapper)]
    assert wrappers and all(w.active_adapters == w.adapter_names for w in wrappers)
    np.testing.assert_allclose(
        call_logits(classifier), exported["expected"]["serving_default"], atol=1e-5
    )


def test_merged_adapters_cannot_be_exported_switchable(tmp_path):
    classifier = make_text_classifier(seed=2)
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    keras_adapters.merge_adapters(classifier)
    before = snapshot(classifier)
    with pytest.raises(ValueError, match="unmerge_adapters"):
        keras_adapters.export.export_text_classifier(
            classifier, tmp_path / "1", label_names=LABEL_NAMES, adapters="switchable"
        )
    assert list(tmp_path.iterdir()) == []
    assert_unchanged(before, snapshot(classifier))
