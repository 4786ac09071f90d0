"""Bad input fails before anything changes; a failed export leaves no trace."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
import keras_adapters.export
from tests.export.text_classifiers import (
    LABEL_NAMES,
    assert_unchanged,
    call_logits,
    make_text_classifier,
    randomized,
    snapshot,
)

LORA = keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"])


@pytest.fixture(scope="module")
def classifier():
    model = make_text_classifier(seed=2)
    keras_adapters.add_adapter(model, LORA, "lora", verbose=False)
    return randomized(model)


def _export(model, path, **kwargs):
    kwargs.setdefault("label_names", LABEL_NAMES)
    return keras_adapters.export.export_text_classifier(model, path, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label_names=["only_one"]), "must name each of the 2 classes"),
        (dict(label_names=["a", "b", "c"]), "must name each of the 2 classes"),
        (dict(label_names="ab"), "must be a list of strings"),
        (dict(label_names=[0, 1]), "must be a list of strings"),
        (dict(adapters="fused"), r"Received: adapters='fused'"),
        (dict(adapters=None), r"Received: adapters=None"),
        (dict(overwrite="yes"), r"Received: overwrite='yes'"),
    ],
)
def test_bad_arguments(classifier, tmp_path, kwargs, message):
    before = snapshot(classifier)
    with pytest.raises(ValueError, match=message):
        _export(classifier, tmp_path / "1", **kwargs)
    assert list(tmp_path.iterdir()) == []
    assert_unchanged(before, snapshot(classifier))


def test_model_without_preprocessor(tmp_path):
    model = make_text_classifier(preprocessor=False)
    with pytest.raises(ValueError, match=r"no preprocessor.*model.preprocessor = "):
        _export(model, tmp_path / "1")
    assert list(tmp_path.iterdir()) == []


def test_model_with_softmax_output(tmp_path):
    model = make_text_classifier(seed=4)
    probabilities = type(model)(
        model.backbone, num_classes=2, preprocessor=model.preprocessor, activation="softmax"
    )
    with pytest.raises(ValueError, match="must output logits"):
        _export(probabilities, tmp_path / "1")
    assert list(tmp_path.iterdir()) == []


def test_existing_path_needs_overwrite(classifier, tmp_path):
    path = _export(classifier, tmp_path / "1", label_names=["no", "yes"])
    written = {p: p.stat().st_mtime_ns for p in path.rglob("*")}
    with pytest.raises(ValueError, match="overwrite"):
        _export(classifier, path)
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*")} == written
    _export(classifier, path, label_names=["neg", "pos"], overwrite=True)
    metadata = json.loads((path / "assets.extra" / "keras_adapters_export.json").read_text())
    assert metadata["label_names"] == ["neg", "pos"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]  # no temporary leftovers


def test_never_replaces_a_directory_that_is_not_ours(classifier, tmp_path):
    foreign = tmp_path / "1"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="path"):
            _export(classifier, foreign, overwrite=overwrite)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]
    a_file = tmp_path / "model.txt"
    a_file.write_text("keep me too")
    with pytest.raises(ValueError, match="path"):
        _export(classifier, a_file, overwrite=True)
    assert a_file.read_text() == "keep me too"


def test_failure_while_writing_restores_the_model(classifier, tmp_path, monkeypatch):
    before = snapshot(classifier)
    logits = call_logits(classifier)
    merged_kernels = []

    def failing_save(*args, **kwargs):
        # The LoRA update is merged into the kernels while the graph is saved.
        merged_kernels.append(snapshot(classifier)["weights"])
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        _export(classifier, tmp_path / "1")
    monkeypatch.undo()
    changed = [
        k for k, v in before["weights"].items() if not np.array_equal(merged_kernels[0][k], v)
    ]
    assert changed and all(k.endswith("kernel") for k in changed)
    assert_unchanged(before, snapshot(classifier))
    assert keras_adapters.list_adapters(classifier)["lora"]["merged"] is False
    np.testing.assert_array_equal(call_logits(classifier), logits)
    assert list(tmp_path.iterdir()) == []


def test_a_trained_model_keeps_its_optimizer_state(tmp_path):
    model = make_text_classifier(seed=5)
    keras_adapters.add_adapter(model, LORA, "lora", verbose=False)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # One optimizer step, as `fit` would take: Adam now has non-zero moments.
    rng = np.random.default_rng(0)
    gradients = [rng.normal(size=v.shape).astype("float32") for v in model.trainable_variables]
    model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    optimizer_state = [np.array(v) for v in model.optimizer.variables]
    optimizer = model.optimizer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _export(model, tmp_path / "1")
    assert not [w for w in caught if "compile" in str(w.message)]  # "it was recompiled"
    assert model.compiled and model.optimizer is optimizer  # not recompiled
    assert len(model.optimizer.variables) == len(optimizer_state)
    for value, variable in zip(optimizer_state, model.optimizer.variables):
        np.testing.assert_array_equal(np.array(variable), value)
