"""The real thing, small: MiniLM-L6 + Rotten Tomatoes through the console script.

train (real checkpoint, real text, a small subset) -> export -> load the
SavedModel in a fresh process that imports only tensorflow and tensorflow_text
and compare it with the Keras model of the run.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

TEXTS = [
    "A gripping, funny and beautifully acted film.",
    "Dull, overlong and instantly forgettable.",
    "The plot makes no sense, but the cast is terrific.",
]

FRESH_PROCESS = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
assert not any(m.split(".")[0] in ("keras_hub", "keras_nlp", "keras_adapters") for m in sys.modules)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(texts=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({"probabilities": out["probabilities"].numpy().tolist(),
                  "label": [x.decode() for x in out["label"].numpy()]}))
"""


def _cli(*args, timeout=900):
    script = [
        sys.executable,
        "-c",
        "import sys, keras_adapters_cli; sys.exit(keras_adapters_cli.main())",
    ]
    result = subprocess.run(script + list(args), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_train_export_and_serve_real_minilm(tmp_path):
    run = tmp_path / "run"
    out = _cli(
        "train",
        "--train-examples",
        "640",
        "--epochs",
        "1",
        "--sequence-length",
        "48",
        "--verbose",
        "2",
        "--output-dir",
        str(run),
    )
    assert "test accuracy" in out and "trainable" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["backbone"] == "minilm_l6" and metrics["train_examples"] == 640
    assert metrics["test_examples"] > 1000
    assert metrics["test_accuracy"] >= metrics["untrained_test_accuracy"] + 0.1
    assert metrics["test_accuracy"] >= metrics["majority_class_test_accuracy"] + 0.05
    assert metrics["export"]["max_abs_logit_diff"] <= 1e-5

    exported = tmp_path / "exported"
    _cli("export", str(run), "--output", str(exported))
    fresh = subprocess.run(
        [sys.executable, "-I", "-c", FRESH_PROCESS, str(exported), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    served = json.loads(fresh.stdout.strip().splitlines()[-1])
    keras_side = [
        json.loads(line)
        for line in _cli("predict", "--json", str(run), *TEXTS).splitlines()
        if line.startswith("{")
    ]
    for served_probs, label, row in zip(served["probabilities"], served["label"], keras_side):
        np.testing.assert_allclose(served_probs, list(row["probabilities"].values()), atol=1e-4)
        assert label == row["label"]
