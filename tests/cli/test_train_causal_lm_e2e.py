"""`keras-adapters train --task causal-lm` end to end on the real SmolLM2 and real text (slow)."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_causal_lm_job_trains_scores_exports_and_verifies(tmp_path):
    output = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "keras_adapters_cli",
        "train",
        "--task",
        "causal-lm",
        "--train-examples",
        "96",
        "--eval-examples",
        "48",
        "--max-new-tokens",
        "4",
        "--output-dir",
        str(output),
        "--verbose",
        "0",
    ]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["task"] == "causal-lm" and metrics["backbone"] == "smollm2_135m_instruct"
    assert metrics["label_words"] == ["negative", "positive"]
    assert metrics["train_examples"] == 96 and metrics["eval_examples"] == 48
    # Twelve steps teach the answer format: the answers' perplexity collapses.
    assert metrics["answer_perplexity"] < metrics["zero_shot_answer_perplexity"] / 10
    assert 0 <= metrics["zero_shot_accuracy"] <= 1 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["export"]["verified_in_fresh_process"] is True
    assert metrics["export"]["answers_equal_generate"] is True
    assert len(metrics["samples"]) == 4
    assert all(s["answer"].strip() in ("positive", "negative") for s in metrics["samples"])
    for name in ("adapter/adapter_config.json", "saved_model/saved_model.pb", "training_curve.png"):
        assert (output / name).is_file()
    config = json.loads((output / "run_config.json").read_text())
    assert config["task"] == "causal-lm" and config["instruction"]
