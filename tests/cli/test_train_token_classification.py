"""`keras-adapters train --task token-classification` on a tiny tagger and tiny CoNLL files.

Train -> run directory (adapter, metrics.json, curve, SavedModel whose entities
are checked in a fresh TensorFlow-only process) -> `keras-adapters export` of the run.
"""

import json

import pytest

from keras_adapters.cli import main, run_files
from keras_adapters.models import TokenClassifier
from tests.support.tiny_taggers import make_tagger, write_conll_folder


def _tiny_tagger(backbone_preset, sequence_length, tag_names, cache_dir=None):
    tagger = make_tagger(sequence_length=sequence_length)
    return TokenClassifier(tagger.backbone, tag_names=tag_names, preprocessor=tagger.preprocessor)


@pytest.mark.slow
def test_train_writes_a_verified_run_and_export_reuses_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_files, "build_token_classifier", _tiny_tagger)
    data = write_conll_folder(tmp_path / "conll")
    run = tmp_path / "run"
    code = main.main(
        [
            "train",
            "--task",
            "token-classification",
            "--data",
            str(data),
            "--method",
            "lora",
            "--sequence-length",
            "16",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--verbose",
            "0",
            "--output-dir",
            str(run),
        ]
    )
    assert code == 0
    names = {path.name for path in run.iterdir()}
    assert {"adapter", "metrics.json", "run_config.json", "saved_model"} <= names
    assert run_files.CURVE in names
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "token-classification" and metrics["train_examples"] == 20
    assert metrics["test_examples"] == 3 and 0.0 <= metrics["test_entity_f1"] <= 1.0
    scores = metrics["test_scores"]
    assert scores["true_entities"] == 5  # BRUSSELS; Peter, Paris; New York, Reuters
    assert metrics["export"]["verified_in_fresh_process"]
    assert metrics["export"]["max_abs_logit_diff"] <= 1e-4
    assert metrics["trainable_parameters"] < metrics["total_parameters"]
    config = run_files.read_run_config(run)
    assert config["label_names"][0] == "O" and config["task"] == "token-classification"

    # The run rebuilds; the command exports it again and checks the served entities
    # and logits against the Keras model in a fresh process.
    exported = tmp_path / "exported"
    assert main.main(["export", str(run), "--output", str(exported)]) == 0
    assert (exported / "saved_model.pb").is_file()

    # predict: the SavedModel and the run find the same entities, offsets into the text.
    text = "Peter Blackburn lives in Paris, said Reuters."
    capsys.readouterr()
    found = []
    for model in (exported, run):
        assert main.main(["predict", "--json", str(model), text]) == 0
        found.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["entities"])
    assert found[0] == found[1]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in found[0])
