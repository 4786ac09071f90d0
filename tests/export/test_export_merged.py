"""adapters='merged': the served graph computes the model, with LoRA folded in."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
import keras_adapters.export
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


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A LoRA classifier and a plain one, exported and called in fresh processes."""
    directory = tmp_path_factory.mktemp("merged")
    classifier = make_text_classifier()
    base_logits = predict_logits(classifier)
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    randomized(classifier)
    logits = predict_logits(classifier)
    before = snapshot(classifier)
    path = keras_adapters.export.export_text_classifier(
        classifier, directory / "sentiment" / "1", label_names=LABEL_NAMES
    )
    plain = make_text_classifier(seed=1)
    plain_logits = predict_logits(plain)
    plain_path = keras_adapters.export.export_text_classifier(
        plain, directory / "plain" / "1", label_names=LABEL_NAMES, adapters="switchable"
    )
    outputs = verify_concurrently(
        {
            "lora": dict(path=path, texts=TEXTS, expected_logits=logits),
            "plain": dict(path=plain_path, texts=TEXTS, expected_logits=plain_logits),
        }
    )
    return {
        "classifier": classifier,
        "logits": logits,
        "base_logits": base_logits,
        "before": before,
        "path": path,
        "outputs": outputs["lora"],
        "plain_logits": plain_logits,
        "plain_outputs": outputs["plain"],
    }


def test_fresh_process_outputs_equal_predict(exported):
    outputs = exported["outputs"]
    assert outputs.fresh_process and outputs.process["loaded_project_modules"] == []
    # LoRA really changes the outputs, so an export that dropped it would fail.
    assert np.max(np.abs(exported["logits"] - exported["base_logits"])) > 0.1
    np.testing.assert_allclose(outputs["logits"], exported["logits"], atol=1e-5, rtol=0)
    assert outputs["logits"].dtype == np.float32 and outputs["logits"].shape == (len(TEXTS), 2)
    assert outputs["probabilities"].dtype == np.float32
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1.0, atol=1e-6)
    expected_probabilities = tf.nn.softmax(exported["logits"]).numpy()
    np.testing.assert_allclose(outputs["probabilities"], expected_probabilities, atol=1e-6)
    assert outputs["label"] == [LABEL_NAMES[i] for i in exported["logits"].argmax(axis=-1)]
    assert set(outputs["label"]) == set(LABEL_NAMES)  # both classes occur in TEXTS


def test_model_is_left_as_it_was(exported):
    assert_unchanged(exported["before"], snapshot(exported["classifier"]))
    assert keras_adapters.list_adapters(exported["classifier"])["lora"]["merged"] is False
    np.testing.assert_array_equal(predict_logits(exported["classifier"]), exported["logits"])


def test_graph_has_only_base_variables(exported):
    loaded = tf.saved_model.load(str(exported["path"]))
    saved = {v.name.split(":")[0] for v in loaded._all_variables}
    assert not any("lora" in name for name in saved)
    base = {v.path for v in exported["classifier"].weights if "/lora/" not in v.path}
    assert saved == base
    assert list(loaded.signatures) == ["serving_default"]
    metadata_file = exported["path"] / "assets.extra" / "keras_adapters_export.json"
    metadata = json.loads(metadata_file.read_text())
    assert metadata["adapters"] == "merged" and metadata["label_names"] == LABEL_NAMES
    assert metadata["signatures"]["serving_default"] == {"active": ["lora"], "merged": ["lora"]}


def test_saved_model_cli_lists_the_signature(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    command = [cli, "show", "--dir", str(exported["path"]), "--tag_set", "serve"]
    shown = subprocess.run(
        command + ["--signature_def", "serving_default"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout
    assert "inputs['texts'] tensor_info:" in shown
    for output, dtype, shape in (
        ("logits", "DT_FLOAT", "(-1, 2)"),
        ("probabilities", "DT_FLOAT", "(-1, 2)"),
        ("label", "DT_STRING", "(-1)"),
    ):
        block = shown.split(f"outputs['{output}'] tensor_info:")[1]
        assert f"dtype: {dtype}" in block.split("name:")[0]
        assert f"shape: {shape}" in block.split("name:")[0]
    assert "Method name is: tensorflow/serving/predict" in shown


def test_plain_model_without_adapters(exported):
    outputs, logits = exported["plain_outputs"], exported["plain_logits"]
    np.testing.assert_allclose(outputs["logits"], logits, atol=1e-5, rtol=0)
    assert outputs["label"] == [LABEL_NAMES[i] for i in logits.argmax(axis=-1)]


def test_merged_export_runs_other_active_adapters(tmp_path):
    classifier = make_text_classifier(seed=6)
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    prefix = keras_adapters.PrefixConfig(num_prefix_tokens=2)
    keras_adapters.add_adapter(classifier, prefix, "prefix", verbose=False)
    keras_adapters.set_active_adapters(classifier, ["lora", "prefix"])
    randomized(classifier)
    logits = predict_logits(classifier)
    before = snapshot(classifier)
    path = keras_adapters.export.export_text_classifier(
        classifier, tmp_path / "1", label_names=LABEL_NAMES
    )
    assert_unchanged(before, snapshot(classifier))
    loaded = tf.saved_model.load(str(path))
    served = loaded.signatures["serving_default"](texts=tf.constant(TEXTS))["logits"].numpy()
    np.testing.assert_allclose(served, logits, atol=1e-5, rtol=0)
    saved = {v.name.split(":")[0] for v in loaded._all_variables}
    assert not any("/lora/" in name for name in saved)
    assert any("/prefix/" in name for name in saved)


def test_adapters_merged_by_the_user_stay_merged(tmp_path):
    classifier = make_text_classifier(seed=7)
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    randomized(classifier)
    logits = call_logits(classifier)
    keras_adapters.merge_adapters(classifier)
    before = snapshot(classifier)
    path = keras_adapters.export.export_text_classifier(
        classifier, tmp_path / "1", label_names=LABEL_NAMES
    )
    assert_unchanged(before, snapshot(classifier))
    assert keras_adapters.list_adapters(classifier)["lora"]["merged"] is True
    loaded = tf.saved_model.load(str(path))
    served = loaded.signatures["serving_default"](texts=tf.constant(TEXTS))["logits"].numpy()
    np.testing.assert_allclose(served, logits, atol=1e-5, rtol=0)
    assert not any("lora" in v.name for v in loaded._all_variables)


def test_ia3_and_dora_merge_into_the_served_graph(tmp_path):
    """The other merging methods: the fresh process serves the Keras logits, base variables only."""
    configs = {
        "ia3": keras_adapters.IA3Config(modules_to_save=["logits"]),
        "dora": keras_adapters.DoraConfig(rank=2, targets="all-linear"),
    }
    jobs, logits, classifiers = {}, {}, {}
    for method, config in configs.items():
        classifier = make_text_classifier(seed=4)
        base_logits = predict_logits(classifier)
        keras_adapters.add_adapter(classifier, config, method, verbose=False)
        randomized(classifier)
        logits[method] = predict_logits(classifier)
        assert np.max(np.abs(logits[method] - base_logits)) > 0.1
        before = snapshot(classifier)
        path = keras_adapters.export.export_text_classifier(
            classifier, tmp_path / method / "1", label_names=LABEL_NAMES
        )
        assert_unchanged(before, snapshot(classifier))
        saved = {v.name.split(":")[0] for v in tf.saved_model.load(str(path))._all_variables}
        assert saved == {v.path for v in classifier.weights if f"/{method}/" not in v.path}
        jobs[method] = dict(path=path, texts=TEXTS, expected_logits=logits[method])
        classifiers[method] = classifier
    for method, outputs in verify_concurrently(jobs).items():
        assert outputs.fresh_process
        np.testing.assert_allclose(outputs["logits"], logits[method], atol=1e-5, rtol=0)
        assert keras_adapters.list_adapters(classifiers[method])[method]["merged"] is False
