"""`save_adapter` in a process killed (SIGKILL) mid-write: the target is the old or the new adapter.

Each child process overwrites an adapter directory and is stopped at one
stage by a hook (it prints READY and sleeps there), then killed. Whatever the
stage, the target directory must be complete: the old adapter or the new one.
"""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.saving import atomic_directory
from keras_adapters.saving.adapter_file import CONFIG_FILE, WEIGHTS_FILE
from tests.support.tiny_models import make_classifier, randomize_adapters

ROOT = pathlib.Path(__file__).resolve().parents[2]
LORA = keras_adapters.LoraConfig(rank=2, targets=["query", "value"])

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import safetensors.numpy
    import keras_adapters
    from keras_adapters.saving import atomic_directory
    from tests.support.tiny_models import make_classifier, randomize_adapters

    stage, target = sys.argv[1], sys.argv[2]
    model = make_classifier()
    keras_adapters.add_adapter(
        model, keras_adapters.LoraConfig(rank=2, targets=["query", "value"]), "task",
        verbose=False,
    )
    randomize_adapters(model, seed=NEW_SEED)

    def pause():
        print("READY", flush=True)
        time.sleep(120)

    save_file, exchange, rename = (
        safetensors.numpy.save_file, atomic_directory.exchange_paths, os.rename
    )
    if stage == "mid_weights_write":
        def half_written(tensors, filename, metadata=None):
            save_file(tensors, filename)
            data = open(filename, "rb").read()
            open(filename, "wb").write(data[: len(data) // 2])
            pause()
        safetensors.numpy.save_file = half_written
    elif stage == "before_swap":
        def wait_then_swap(first, second):
            pause()
            return exchange(first, second)
        atomic_directory.exchange_paths = wait_then_swap
    elif stage == "after_swap":
        def swap_then_wait(first, second):
            swapped = exchange(first, second)
            pause()
            return swapped
        atomic_directory.exchange_paths = swap_then_wait
    elif stage == "fallback_between_renames":
        atomic_directory.exchange_paths = lambda first, second: False
        def rename_then_wait(source, destination):
            rename(source, destination)
            if ".old-" in os.fspath(destination):
                pause()
        os.rename = rename_then_wait
    keras_adapters.save_adapter(model, target)
    print("DONE", flush=True)
    """
).replace("NEW_SEED", "5")

# stage -> what the target directory must hold after the kill
STAGES = {
    "mid_weights_write": "old",
    "before_swap": "old",
    "after_swap": "new",
}


def _adapter_tensors(seed):
    model = make_classifier()
    keras_adapters.add_adapter(model, LORA, "task", verbose=False)
    randomize_adapters(model, seed=seed)
    return model


def _assert_same_tensors(path, expected_model, tmp_path):
    reference = tmp_path / "reference"
    keras_adapters.save_adapter(expected_model, reference, overwrite=True)
    found = safetensors.numpy.load_file(str(path / WEIGHTS_FILE))
    expected = safetensors.numpy.load_file(str(reference / WEIGHTS_FILE))
    assert sorted(found) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(found[key], expected[key])
    assert (path / CONFIG_FILE).read_text() == (reference / CONFIG_FILE).read_text()


def _run_children(stages, tmp_path):
    """Starts one child per stage (in parallel), kills each at READY; returns the targets."""
    old = _adapter_tensors(seed=2)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    children = {}
    for stage in stages:
        target = tmp_path / stage / "adapter"
        keras_adapters.save_adapter(old, target)
        children[stage] = subprocess.Popen(
            [sys.executable, "-c", CHILD, stage, str(target)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    try:
        for stage, child in children.items():
            line = child.stdout.readline().strip()  # blocks until the hook pauses
            assert line == "READY", f"{stage}: the child ended with {child.wait()} before READY"
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
    return old, {stage: tmp_path / stage / "adapter" for stage in stages}


@pytest.mark.skipif(atomic_directory._RENAMEAT2 is None, reason="needs renameat2 (Linux)")
def test_killed_save_leaves_the_old_or_the_new_adapter(tmp_path):
    started = time.time()
    old, targets = _run_children(list(STAGES), tmp_path)
    new = _adapter_tensors(seed=5)
    for stage, target in targets.items():
        _assert_same_tensors(target, old if STAGES[stage] == "old" else new, tmp_path)
        leftovers = [p.name for p in target.parent.iterdir() if p.name != "adapter"]
        assert all(name.startswith(".adapter.tmp-") for name in leftovers), (stage, leftovers)
        # The directory loads: nothing half-written is left where the adapter was.
        model = make_classifier()
        keras_adapters.load_adapter(model, target)
    assert time.time() - started < 300


@pytest.mark.slow
def test_without_atomic_exchange_the_old_adapter_survives_beside_the_target(tmp_path):
    """The fallback (two renames) has one moment without the target; the old copy stays."""
    old, targets = _run_children(["fallback_between_renames"], tmp_path)
    target = targets["fallback_between_renames"]
    assert not target.exists()
    (kept,) = target.parent.glob(".adapter.old-*")
    _assert_same_tensors(kept, old, tmp_path)
