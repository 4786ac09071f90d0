"""`keras-adapters train/export/predict/info` in process, on a tiny model and a CSV."""

import json

import numpy as np
import pytest

from keras_adapters.cli.main import main


def _train(tmp_path, csv_path, *extra):
    return main(
        [
            "train",
            "--data",
            str(csv_path),
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--sequence-length",
            "8",
            "--batch-size",
            "8",
            "--epochs",
            "2",
            "--train-examples",
            "0",
            "--output-dir",
            str(tmp_path / "run"),
            "--verbose",
            "0",
            "--no-xla",
            *extra,
        ]
    )


@pytest.mark.parametrize("method", ["lora", "houlsby", "adalora", "prompt", "full"])
def test_train_writes_a_complete_run(method, tmp_path, tiny_preset, sentiment_csv):
    assert (
        _train(
            tmp_path,
            sentiment_csv,
            "--method",
            method,
            "--bottleneck-dim",
            "2",
            "--prompt-length",
            "3",
            "--learning-rate",
            "1e-2",
        )
        == 0
    )
    run = tmp_path / "run"
    expected = {"run_config.json", "metrics.json", "training_curve.png", "saved_model"}
    expected.add("model.weights.h5" if method == "full" else "adapter")
    assert {p.name for p in run.iterdir()} == expected
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == method and metrics["label_names"] == ["neg", "pos"]
    assert len(metrics["history"]["val_accuracy"]) == 2
    assert 0 <= metrics["test_accuracy"] <= 1
    assert metrics["export"]["max_abs_logit_diff"] <= 1e-5
    assert metrics["export"]["verified_in_fresh_process"] is True
    assert metrics["export"]["verifier_process"]["loaded_project_modules"] == []
    assert (run / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if method != "full":
        assert metrics["trainable_parameters"] < metrics["total_parameters"]


def test_export_and_predict_from_the_run(tmp_path, tiny_preset, sentiment_csv, capsys):
    assert _train(tmp_path, sentiment_csv, "--learning-rate", "1e-2") == 0
    run = tmp_path / "run"
    assert (
        main(["export", str(run), "--output", str(tmp_path / "sm"), "--adapters", "switchable"])
        == 0
    )
    capsys.readouterr()
    assert main(["predict", "--json", str(tmp_path / "sm"), "a great film", "a dull plot"]) == 0
    served = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["predict", "--json", str(run), "a great film", "a dull plot"]) == 0
    keras_side = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for a, b in zip(served, keras_side):
        assert a["label"] == b["label"]
        np.testing.assert_allclose(
            list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-3
        )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sequence-length", "0"], "Received: --sequence-length=0"),
        (["--epochs", "-1"], "Received: --epochs=-1"),
        (["--rank", "0"], "Received: rank=0"),
        (["--method", "houlsby", "--reduction-factor", "0"], "Received: reduction_factor=0"),
        (["--backbone", "gpt5"], "Received: --backbone='gpt5'"),
        (["--layers", "x"], "Received: --layers='x'"),
        (["--method", "prompt", "--prompt-length", "0"], "Received: num_virtual_tokens=0"),
        (["--task", "causal-lm", "--method", "prompt"], "Received: --method prompt"),
        (["--task", "token-classification", "--method", "prompt"], "Received: --method prompt"),
        (["--data", "no_such_preset"], "no_such_preset"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    args, message, tmp_path, tiny_preset, sentiment_csv, capsys
):
    code = main(["train", "--output-dir", str(tmp_path / "run"), "--verbose", "0", *args])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_csv_without_the_named_columns(tmp_path, tiny_preset, sentiment_csv, capsys):
    code = main(["train", "--data", str(sentiment_csv), "--output-dir", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "text" in err and "review" in err  # the missing column and the columns found
    assert not (tmp_path / "run").exists()


def test_previous_run_is_kept_unless_overwrite(tmp_path, tiny_preset, sentiment_csv, capsys):
    assert _train(tmp_path, sentiment_csv) == 0
    before = (tmp_path / "run" / "metrics.json").read_text()
    assert _train(tmp_path, sentiment_csv) == 2
    assert "already holds a previous result" in capsys.readouterr().err
    assert (tmp_path / "run" / "metrics.json").read_text() == before
    assert _train(tmp_path, sentiment_csv, "--overwrite", "--seed", "7") == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["seed"] == 7


def test_foreign_directory_is_never_replaced(tmp_path, tiny_preset, sentiment_csv, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert _train(tmp_path, sentiment_csv, "--overwrite") == 2
    assert "refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_failure_midway_leaves_no_result(tmp_path, tiny_preset, sentiment_csv, monkeypatch):
    import keras_adapters.cli.train_command as train_command

    def broken(*args, **kwargs):
        raise RuntimeError("export failed")

    monkeypatch.setattr(train_command, "_export_and_verify", broken)
    with pytest.raises(RuntimeError, match="export failed"):
        _train(tmp_path, sentiment_csv)
    # Only what `--resume` needs (tests/cli/test_resume.py): no adapter, export or metrics.
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"checkpoint", "status.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_predict_needs_texts_and_a_model(tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["predict", str(tmp_path)]) == 2
    assert main(["predict", str(tmp_path), "some text"]) == 2
    assert "saved_model.pb" in capsys.readouterr().err


def test_info_lists_methods_backbones_and_presets(capsys, tmp_path):
    assert main(["info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "lora",
        "houlsby",
        "BertBackbone",
        "RobertaBackbone",
        "minilm_l6",
        "rotten_tomatoes",
        "nothing cached",
    ):
        assert expected in out


def test_mixed_precision_run_exports_float32_outputs(tmp_path, tiny_preset, sentiment_csv):
    import keras

    try:
        assert _train(tmp_path, sentiment_csv, "--mixed-precision", "--learning-rate", "1e-2") == 0
    finally:
        keras.mixed_precision.set_global_policy("float32")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["mixed_precision"] is True
    assert np.isfinite(metrics["test_loss"])
