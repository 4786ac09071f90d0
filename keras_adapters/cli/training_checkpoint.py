"""`TrainingCheckpoint`: the state of an unfinished `fit`, written so a kill never corrupts it."""

import json
import pathlib
import shutil

import numpy as np

from keras_adapters.saving.atomic_directory import atomic_directory

WEIGHTS = "model.weights.h5"  # Keras' own weights file: the model and its optimizer
EXTRA = "extra_state.npz"  # what that file leaves out
POSITION = "position.json"
PREFIX = "step-"
FORMAT_VERSION = 1


class TrainingCheckpoint:
    """The latest training state of a run, kept in one folder.

    A checkpoint is a folder `step-<global step>` holding `model.weights.h5`
    (`model.save_weights`: every weight and the optimizer's state, so also
    the learning-rate schedule's position, `optimizer.iterations`),
    `extra_state.npz` (what that file leaves out: the dropout layers'
    random-generator states, methods' `training_statistics` such as
    AdaLoRA's smoothed importance, and the running metrics of the epoch)
    and `position.json` (epoch and step, and whatever the caller adds). It
    is written under a temporary name and renamed into place, and the
    previous one is deleted only then: a kill at any moment leaves at least
    one complete checkpoint, and the reader takes the newest complete one.

    Args:
        directory: the folder holding the checkpoints.
    """

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)

    def latest(self):
        """The folder of the newest complete checkpoint, or `None`."""
        found = [
            (int(path.name[len(PREFIX) :]), path)
            for path in self.directory.glob(PREFIX + "*")
            if path.name[len(PREFIX) :].isdigit() and (path / POSITION).is_file()
        ]
        return max(found)[1] if found else None

    def read(self):
        """The newest checkpoint's `position.json` as a dict, or `None`."""
        path = self.latest()
        if path is None:
            return None
        position = json.loads((path / POSITION).read_text())
        if position.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} was written by another version of keras-adapters (format_version "
                f"{position.get('format_version')!r}); start over with --overwrite."
            )
        return position

    def save(self, model, global_step, **position):
        """Writes the state of `model` after `global_step` steps; then removes older ones."""
        target = self.directory / f"{PREFIX}{global_step:08d}"
        if target.exists():  # the same step twice holds the same state
            return
        variables = _extra_variables(model)
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_directory(target, overwrite=False) as folder:
            model.save_weights(folder / WEIGHTS)
            arrays = {
                f"{group}_{i}": np.asarray(v.numpy())
                for group, values in variables.items()
                for i, v in enumerate(values)
            }
            np.savez(folder / EXTRA, **arrays)
            counts = {group: len(values) for group, values in variables.items()}
            record = {
                "format_version": FORMAT_VERSION,
                "global_step": global_step,
                **position,
                "extra_state": counts,
            }
            (folder / POSITION).write_text(json.dumps(record, indent=1) + "\n")
        for path in self.directory.iterdir():
            if path != target:  # older checkpoints, and leftovers of killed writes
                shutil.rmtree(path, ignore_errors=True)

    def restore(self, model):
        """Loads the newest checkpoint into `model`; returns `(position, metric values)`.

        `model` must be built and compiled as when the checkpoint was
        written. Returns `(None, None)` when there is no checkpoint. The
        metric values are for `assign_metrics` once `fit` has reset the
        metrics of the resumed epoch.
        """
        position = self.read()
        if position is None:
            return None, None
        path = self.latest()
        variables = _extra_variables(model)
        saved = position["extra_state"]
        # Metrics are built by the first step of `fit`; only their count is known here.
        counts = {group: len(values) for group, values in variables.items()}
        if {**counts, "metrics": saved["metrics"]} != saved:
            raise ValueError(
                f"The checkpoint {path} does not belong to this model (state variables "
                f"{saved}, the model has {counts}); start over with --overwrite."
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(path / WEIGHTS)
        with np.load(path / EXTRA) as arrays:
            values = {
                group: [arrays[f"{group}_{i}"] for i in range(count)]
                for group, count in saved.items()
            }
        for group in ("random", "statistics"):
            for variable, value in zip(variables[group], values[group]):
                variable.assign(value)
        return position, values["metrics"]

    def clear(self):
        """Removes every checkpoint (a run started over)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def assign_metrics(model, values):
    """Puts back the running metrics saved with a mid-epoch checkpoint."""
    if len(model.metrics_variables) != len(values):
        raise ValueError(
            f"The checkpoint holds {len(values)} metric variables; the model has "
            f"{len(model.metrics_variables)}. Start over with --overwrite."
        )
    for variable, value in zip(model.metrics_variables, values):
        variable.assign(value)


def _extra_variables(model):
    """The state `model.save_weights` leaves out, in a fixed order, by group."""
    saved = {id(v) for v in model.weights}
    statistics = []
    for layer in model._flatten_layers():
        statistics.extend(getattr(layer, "training_statistics", ()))
    return {
        "random": [v for v in model.variables if id(v) not in saved],
        "statistics": statistics,
        "metrics": list(model.metrics_variables),
    }
