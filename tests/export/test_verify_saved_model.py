"""`verify_saved_model`: argument checks and the comparison with expected logits."""

import os
import sys

import numpy as np
import pytest

import keras_adapters.export

verify_module = sys.modules["keras_adapters.export.verify_saved_model"]


@pytest.fixture
def fake_saved_model(tmp_path, monkeypatch):
    """A directory that passes the file checks; the fresh process is faked."""
    (tmp_path / "saved_model.pb").write_bytes(b"")
    monkeypatch.setattr(verify_module, "_signature_names", lambda path: {"serving_default"})
    outputs = {
        "logits": np.array([[1.0, -1.0]], dtype="float32"),
        "probabilities": np.array([[0.88, 0.12]], dtype="float32"),
        "label": ["positive"],
    }
    monkeypatch.setattr(verify_module, "_run_probe", lambda request, timeout: outputs)
    return tmp_path


def test_expected_logits_within_atol(fake_saved_model):
    outputs = keras_adapters.export.verify_saved_model(
        fake_saved_model, ["fine"], expected_logits=[[1.0 + 5e-6, -1.0]]
    )
    assert outputs["label"] == ["positive"]


def test_expected_logits_beyond_atol(fake_saved_model):
    with pytest.raises(AssertionError, match=r"differ .* by up to 0\.001"):
        keras_adapters.export.verify_saved_model(
            fake_saved_model, ["fine"], expected_logits=[[1.001, -1.0]]
        )
    with pytest.raises(AssertionError, match=r"shape \(1, 2\), expected \(2, 2\)"):
        keras_adapters.export.verify_saved_model(
            fake_saved_model, ["fine"], expected_logits=np.zeros((2, 2))
        )


@pytest.mark.parametrize("texts", ["a single string", [], [1, 2], None])
def test_texts_must_be_a_list_of_strings(fake_saved_model, texts):
    with pytest.raises(ValueError, match="`texts` must be a non-empty list of strings"):
        keras_adapters.export.verify_saved_model(fake_saved_model, texts)


def test_unknown_signature(fake_saved_model):
    with pytest.raises(ValueError, match=r"Received: signature_name='adapter_x'"):
        keras_adapters.export.verify_saved_model(
            fake_saved_model, ["fine"], signature_name="adapter_x"
        )


def test_not_a_saved_model(tmp_path):
    with pytest.raises(ValueError, match="must be a SavedModel directory"):
        keras_adapters.export.verify_saved_model(tmp_path, ["fine"])


def test_the_probe_imports_no_keras_hub_or_keras_adapters():
    # KerasHub and keras-adapters imports are blocked in the fresh process.
    assert "sys.modules[blocked] = None" in verify_module._PROBE
    assert "keras_hub" in verify_module._PROBE and "keras_adapters" in verify_module._PROBE
    imports = [line for line in verify_module._PROBE.splitlines() if line.startswith("import")]
    assert [line.split("#")[0].strip() for line in imports] == [
        "import json",
        "import os",
        "import sys",
        "import tensorflow as tf",
        "import tensorflow_text",
    ]


def test_fresh_process_is_reported_not_assumed():
    from keras_adapters.export import VerifiedOutputs

    assert VerifiedOutputs({"pid": -1, "loaded_project_modules": []}).fresh_process
    assert not VerifiedOutputs({"pid": os.getpid(), "loaded_project_modules": []}).fresh_process
    assert not VerifiedOutputs({"pid": -1, "loaded_project_modules": ["keras_hub"]}).fresh_process
    assert not VerifiedOutputs({}).fresh_process
