"""`keras-adapters train --resume`: an interrupted run ends where an uninterrupted one does.

Tiny BERT or GPT-2 (tests/support/tiny_cli.py), 48 training reviews in
batches of 4: 12 steps per epoch, 2 epochs, a checkpoint every 3 steps.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file

from keras_adapters.cli import train_command, training_curve
from keras_adapters.cli.main import main
from tests.support.tiny_cli import write_sentiment_csv

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS = 24  # 2 epochs of 12 steps
RESULT = {"adapter", "metrics.json", "run_config.json", "saved_model", "training_curve.png"}


def _args(csv_path, output, *extra):
    return [
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
        "4",
        "--epochs",
        "2",
        "--learning-rate",
        "1e-2",
        "--checkpoint-every",
        "3",
        "--output-dir",
        str(output),
        "--verbose",
        "0",
        "--no-xla",
        *extra,
    ]


class Interrupted(Exception):
    pass


def _quick_export(model, data, path, atol):
    path.mkdir()
    return {"max_abs_logit_diff": 0.0}


@pytest.fixture
def quick_export(monkeypatch):
    """Skips the SavedModel export (tests/cli/test_train_command.py covers it): seconds per run."""
    monkeypatch.setattr(train_command, "_export_and_verify", _quick_export)


def _interrupt_at(monkeypatch, step):
    """The next run raises right after training step `step`, like a kill between checkpoints."""
    record = training_curve.StepLog.on_train_batch_end

    def interrupted(self, batch, logs=None):
        record(self, batch, logs)
        if self.step == step:
            raise Interrupted

    monkeypatch.setattr(training_curve.StepLog, "on_train_batch_end", interrupted)
    return lambda: monkeypatch.setattr(training_curve.StepLog, "on_train_batch_end", record)


def _checkpoint_steps(run):
    return sorted(int(p.name[5:]) for p in (run / "checkpoint").glob("step-*"))


def _assert_same_run(expected_dir, actual_dir):
    """Same adapter weights and the same training curve, to float tolerance."""
    expected = load_file(expected_dir / "adapter" / "adapter_weights.safetensors")
    actual = load_file(actual_dir / "adapter" / "adapter_weights.safetensors")
    assert expected.keys() == actual.keys()
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert any(np.abs(value).max() > 0 for value in expected.values())
    before, after = (
        json.loads((d / "metrics.json").read_text()) for d in (expected_dir, actual_dir)
    )
    assert after["steps"]["step"] == list(range(1, STEPS + 1))
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(after["steps"][key], before["steps"][key], rtol=1e-5)
    for key, values in before["history"].items():
        np.testing.assert_allclose(after["history"][key], values, rtol=1e-5, err_msg=key)
    return after


@pytest.mark.slow
def test_interrupted_adalora_run_resumes_to_the_uninterrupted_weights(
    tmp_path, tiny_preset, quick_export, sentiment_csv, monkeypatch, capsys
):
    # AdaLoRA: beyond the optimizer, its smoothed importance scores and rank masks must
    # resume too (LoRA is the SIGKILL test's method, below).
    flags = ("--method", "adalora", "--init-rank", "4", "--target-rank", "2")
    assert main(_args(sentiment_csv, tmp_path / "whole", *flags)) == 0

    run = tmp_path / "run"
    restore = _interrupt_at(monkeypatch, step=17)
    with pytest.raises(Interrupted):
        main(_args(sentiment_csv, run, *flags))
    restore()
    # Mid-epoch 2: the checkpoint of step 15 is there, nothing of the result.
    assert {p.name for p in run.iterdir()} == {"checkpoint", "status.json"}
    assert _checkpoint_steps(run) == [15]
    assert json.loads((run / "status.json").read_text())["state"] == "training"

    capsys.readouterr()
    assert main(_args(sentiment_csv, run, *flags)) == 2
    assert "holds an unfinished run" in capsys.readouterr().err
    assert main(_args(sentiment_csv, run, *flags, "--resume")) == 0
    assert "Continuing at epoch 2 of 2, step 4 of 12" in capsys.readouterr().out
    assert {p.name for p in run.iterdir()} == RESULT  # checkpoint and status are gone
    metrics = _assert_same_run(tmp_path / "whole", run)
    assert metrics["resumed_from_step"] == 15


@pytest.mark.slow
def test_unfinished_run_continues_only_with_its_flags_and_data(
    tmp_path, tiny_preset, quick_export, sentiment_csv, monkeypatch, capsys
):
    run = tmp_path / "run"
    restore = _interrupt_at(monkeypatch, step=4)
    with pytest.raises(Interrupted):
        main(_args(sentiment_csv, run))
    restore()
    assert _checkpoint_steps(run) == [3]
    status = (run / "status.json").read_text()

    capsys.readouterr()
    refused = [
        (
            ["--resume", "--learning-rate", "0.05"],
            "--learning-rate: 0.01 in the run, 0.05 now",
        ),
        (["--resume", "--overwrite"], "pass one of them"),
        ([], "the last checkpoint is at step 3 of 24"),
    ]
    for extra, message in refused:
        assert main(_args(sentiment_csv, run, *extra)) == 2
        assert message in capsys.readouterr().err
    write_sentiment_csv(sentiment_csv, rows=64)  # the same file, other data
    assert main(_args(sentiment_csv, run, "--resume")) == 2
    assert "the training examples changed" in capsys.readouterr().err
    assert (run / "status.json").read_text() == status and _checkpoint_steps(run) == [3]

    restore = _interrupt_at(monkeypatch, step=2)
    with pytest.raises(Interrupted):
        main(_args(sentiment_csv, run, "--overwrite"))  # starts over: the old checkpoint goes
    restore()
    assert _checkpoint_steps(run) == []
    assert "Resuming" not in capsys.readouterr().out

    finished = tmp_path / "finished"  # what `check` looks at in a finished run
    finished.mkdir()
    (finished / "run_config.json").write_text("{}")
    assert main(_args(sentiment_csv, finished, "--resume")) == 2
    assert "holds a finished run: there is nothing to resume" in capsys.readouterr().err


def test_resume_needs_the_output_dir(tiny_preset, capsys):
    assert main(["train", "--resume", "--verbose", "0"]) == 2
    assert "`--resume` needs the `--output-dir`" in capsys.readouterr().err


def test_checkpoint_every_must_not_be_negative(tmp_path, tiny_preset, capsys):
    assert main(_args("x.csv", tmp_path / "run", "--checkpoint-every", "-1")) == 2
    assert "Received: --checkpoint-every=-1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    tmp_path, tiny_preset, quick_export, sentiment_csv, capsys
):
    run = tmp_path / "run"
    code = main(_args(sentiment_csv, run, "--learning-rate", "1e30", "--checkpoint-every", "1"))
    assert code == 3
    err = capsys.readouterr().err
    found = re.search(r"became nan at step (\d+) \(epoch 1, step (\d+) of the epoch\)", err)
    assert found, err
    step = int(found.group(1))
    assert step == int(found.group(2)) and 1 < step < 12
    for cause in ("learning rate", "--mixed-precision", "bad data"):
        assert cause in err
    assert f"last good checkpoint (step {step - 1}) is kept" in err

    assert {p.name for p in run.iterdir()} == {"checkpoint", "status.json"}  # no result
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["step"] == step
    assert f"at step {step}" in status["error"]
    assert _checkpoint_steps(run) == [step - 1]
    checkpoint = run / "checkpoint" / f"step-{step - 1:08d}"
    assert json.loads((checkpoint / "position.json").read_text())["global_step"] == step - 1
    arrays = []
    with h5py.File(checkpoint / "model.weights.h5") as weights:
        weights.visititems(
            lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None
        )
    assert len(arrays) > 20 and all(np.isfinite(a).all() for a in arrays)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]

    capsys.readouterr()
    assert main(_args(sentiment_csv, run, "--learning-rate", "1e30")) == 2
    assert "it failed: The training loss became nan" in capsys.readouterr().err


def _launch(csv_path, output, step_seconds=None):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}
    env.pop("TINY_CLI_STEP_SECONDS", None)
    if step_seconds:
        env["TINY_CLI_STEP_SECONDS"] = str(step_seconds)
    log = open(output.parent / f"{output.name}.log", "a")  # noqa: SIM115 (closed by the caller)
    command = [sys.executable, "-m", "tests.support.tiny_cli", *_args(csv_path, output, "--resume")]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log), log


def _finish(process, log, timeout=600):
    try:
        return process.wait(timeout=timeout)
    finally:
        log.close()


@pytest.mark.slow
def test_sigkill_mid_epoch_then_the_same_command_resumes_to_the_uninterrupted_weights(tmp_path):
    csv_path = write_sentiment_csv(tmp_path / "reviews.csv")
    run, whole = tmp_path / "run", tmp_path / "whole"
    reference = _launch(csv_path, whole)
    # Slowed to 0.25 s a step so the kill lands between step 15 and the end of training.
    killed, killed_log = _launch(csv_path, run, step_seconds=0.25)
    deadline = time.time() + 600
    while not any(step >= 15 for step in _checkpoint_steps(run)):
        assert killed.poll() is None, (run.parent / "run.log").read_text()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    assert _finish(killed, killed_log) == -signal.SIGKILL
    steps = _checkpoint_steps(run)
    assert len(steps) == 1 and 15 <= steps[0] < STEPS, steps  # mid-epoch 2
    assert not (run / "adapter").exists() and not (run / "metrics.json").exists()

    resumed = _launch(csv_path, run)
    assert _finish(*resumed) == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert _finish(*reference) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    assert "Nothing to resume" in (tmp_path / "whole.log").read_text()
    assert f"Resuming {run} from step {steps[0]}" in (tmp_path / "run.log").read_text()
    assert {p.name for p in run.iterdir()} == RESULT
    metrics = _assert_same_run(whole, run)
    assert metrics["resumed_from_step"] == steps[0]


@pytest.mark.slow
def test_interrupted_causal_lm_run_resumes_to_the_uninterrupted_weights(
    tmp_path, tiny_preset, sentiment_csv, monkeypatch, capsys
):
    from keras_adapters.cli import causal_lm_job

    monkeypatch.setattr(causal_lm_job, "_export_and_verify", lambda lm, path, *_: path.mkdir())
    flags = [
        *("--task", "causal-lm", "--backbone", "tiny_gpt2", "--sequence-length", "64"),
        *("--label-words", "neg=n,pos=p", "--instruction", "pos or neg?", "--system-prompt", "x"),
        *("--eval-examples", "2", "--max-new-tokens", "1"),
    ]

    def causal_args(output, *extra):
        return [*_args(sentiment_csv, output, *extra), *flags]

    assert main(causal_args(tmp_path / "whole")) == 0
    run = tmp_path / "run"
    restore = _interrupt_at(monkeypatch, step=17)
    with pytest.raises(Interrupted):
        main(causal_args(run))
    restore()
    assert _checkpoint_steps(run) == [15]
    capsys.readouterr()
    assert main(causal_args(run, "--resume")) == 0
    assert "(measured before the interruption, kept with the checkpoint)" in capsys.readouterr().out
    metrics = _assert_same_run(tmp_path / "whole", run)
    assert metrics["resumed_from_step"] == 15


@pytest.mark.parametrize("content", [b"{oops", b"[]", b'{"state": "training"}'])
def test_a_tampered_status_file_is_refused_before_any_work(tmp_path, tiny_preset, capsys, content):
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "status.json").write_bytes(content)
    for extra in ([], ["--resume"]):
        assert main(_args("x.csv", run, *extra)) == 2
        assert "status.json" in capsys.readouterr().err
    assert (run / "status.json").read_bytes() == content
