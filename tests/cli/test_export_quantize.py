"""`keras-adapters export --quantize`: an int8/int4 base in the SavedModel, verified."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.cli.main import main
from tests.cli.test_train_command import _train


def _int8_constants(path):
    """How many int8 variables the SavedModel's `serving_default` reads."""
    loaded = tf.saved_model.load(str(path))  # kept alive: it owns the variables
    return sum(v.dtype == tf.int8 for v in loaded.signatures["serving_default"].variables)


@pytest.mark.slow
def test_export_quantize_int8_and_int4_verify_and_refuse(
    tmp_path, tiny_preset, sentiment_csv, capsys
):
    assert _train(tmp_path, sentiment_csv, "--learning-rate", "1e-2") == 0
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["export", str(run), "--output", str(tmp_path / "int8"), "--quantize", "int8"]) == 0
    out = capsys.readouterr().out
    assert "(merged, base int8)" in out and "re-rounded them" in out and "Verified" in out
    assert _int8_constants(tmp_path / "int8") > 0 and _int8_constants(run / "saved_model") == 0
    int8_model = tf.saved_model.load(str(tmp_path / "int8"))
    float_model = tf.saved_model.load(str(run / "saved_model"))
    texts = tf.constant(["a great film", "a dull plot", "the fun moving film"])
    int8_logits = int8_model.signatures["serving_default"](texts=texts)["logits"]
    float_logits = float_model.signatures["serving_default"](texts=texts)["logits"]
    difference = np.abs(int8_logits.numpy() - float_logits.numpy()).max()
    assert 0 < difference < 0.1 * np.abs(float_logits.numpy()).max() + 1e-3

    args = ["export", str(run), "--quantize", "int4", "--output", str(tmp_path / "int4")]
    assert main(args) == 2
    assert "--quantize=int4 --adapters=merged" in capsys.readouterr().err
    assert not pathlib.Path(tmp_path / "int4").exists()
    # int4 with --adapters switchable runs the same export path as the float
    # switchable export (tests/cli/test_train_command.py); not repeated here.
