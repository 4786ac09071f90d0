"""Training on several host CPU devices gives the single-device losses, files and export.

Each case runs `tests/support/multi_device_training.py` in a fresh process:
the device split (JAX's host device count, TensorFlow's logical devices)
must be set before the backend starts.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_adapters
from tests.export.text_classifiers import make_text_classifier

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "support" / "multi_device_training.py"
needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="keras.distribution needs the JAX backend here (Keras' TensorFlow "
    "distribution is a prototype); jax is not installed: "
    "pip install 'keras-adapters[distribution]'",
)


def _run(mode, directory):
    environment = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow" if mode == "mirrored" else "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.run(
        [sys.executable, str(SCRIPT), mode, str(directory)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads((directory / "result.json").read_text())


def _check_same_training(result):
    single, distributed = result["single_losses"], result["distributed_losses"]
    assert len(single) == len(distributed) == 4
    assert np.ptp(single) > 1e-2  # the steps really changed the adapter
    np.testing.assert_allclose(distributed, single, rtol=1e-5, atol=1e-6)
    logits = np.array(result["distributed_logits"])
    np.testing.assert_allclose(logits, result["single_logits"], atol=1e-5, rtol=0)
    # The adapter file of the distributed model, loaded on one device, computes the same.
    np.testing.assert_allclose(result["reloaded_logits"], logits, atol=1e-6, rtol=0)


@pytest.mark.slow
@needs_jax
def test_data_parallel_jax(tmp_path):
    result = _run("data_parallel", tmp_path)
    assert result["backend"] == "jax" and len(result["devices"]) == 4
    _check_same_training(result)
    assert all(set(axes) == {None} for axes in result["shardings"].values() if axes)


@pytest.mark.slow
@needs_jax
def test_model_parallel_jax_places_weights_by_adapter_layout_map(tmp_path):
    result = _run("model_parallel", tmp_path)
    assert result["backend"] == "jax" and len(result["devices"]) == 4
    _check_same_training(result)
    # The layout the helper gives the same model here is what each variable got there.
    template = make_text_classifier(seed=0, preprocessor=False, dropout=0.0)
    keras_adapters.add_adapter(template, keras_adapters.LoraConfig(rank=2), "task", verbose=False)
    devices = [f"cpu:{i}" for i in range(4)]
    mesh = keras.distribution.DeviceMesh((2, 2), ["batch", "model"], devices)
    layout_map = keras_adapters.adapter_layout_map(template, mesh)
    shardings = result["shardings"]
    assert set(shardings) == {v.path for v in template.weights}
    for path, axes in shardings.items():
        layout = layout_map[path]
        assert tuple(axes) == (tuple(layout.axes) if layout else (None,) * len(axes)), path
    assert shardings["transformer_layer_0/feedforward_intermediate_dense/kernel"] == [None, "model"]
    assert (
        shardings["transformer_layer_0/self_attention_layer/query/lora/task/lora_a"] == [None] * 2
    )


@pytest.mark.slow
def test_mirrored_strategy_tensorflow(tmp_path):
    result = _run("mirrored", tmp_path)
    assert result["backend"] == "tensorflow" and len(result["devices"]) == 2
    _check_same_training(result)
    # Exported after distributed training: the served graph computes the model.
    np.testing.assert_allclose(
        result["served_logits"], result["distributed_logits"], atol=1e-5, rtol=0
    )
