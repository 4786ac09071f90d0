"""What every keras-adapters SavedModel export shares: checks, the atomic directory, metadata."""

import contextlib
import json
import pathlib

import keras

from keras_adapters.injection.adapted_model import AdaptedModel
from keras_adapters.saving.atomic_directory import atomic_directory
from keras_adapters.version import __version__

# TF Serving ignores `assets.extra/` except for warm-up requests; this file
# records what was exported and marks the directory as ours (safe to replace).
METADATA_FILE = "assets.extra/keras_adapters_export.json"
METADATA_FORMAT_VERSION = 1


def check_export_arguments(model, overwrite, what):
    """Backend, model type, preprocessor and `overwrite`, checked before anything changes."""
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Exporting a SavedModel needs the TensorFlow backend; set KERAS_BACKEND=tensorflow. "
            f"Received: backend={keras.backend.backend()!r}"
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a Keras {what}. Received: model={type(model).__name__}")
    if getattr(model, "preprocessor", None) is None:
        raise ValueError(
            f"`model` {model.name!r} has no preprocessor, so raw strings cannot be tokenised in "
            "the graph. Attach one before exporting, e.g. `model.preprocessor = "
            "keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=128)` "
            "(or `...Preprocessor.from_preset(preset)`). Received: model.preprocessor=None"
        )
    if not isinstance(overwrite, bool):
        raise ValueError(f"`overwrite` must be a bool. Received: overwrite={overwrite!r}")


@contextlib.contextmanager
def saved_model_directory(path, overwrite):
    """Yields a temporary directory that becomes `path` only if the block succeeds."""
    write = contextlib.ExitStack()
    try:
        directory = write.enter_context(
            atomic_directory(pathlib.Path(path), overwrite=overwrite, marker=METADATA_FILE)
        )
    except FileExistsError as error:
        raise ValueError(str(error)) from None
    with write:
        yield directory


def write_metadata(directory, model, **fields):
    """Writes `assets.extra/keras_adapters_export.json` describing the export."""
    metadata = {
        "format_version": METADATA_FORMAT_VERSION,
        "keras_adapters_version": __version__,
        "model_class": model_class_name(model),
        **fields,
    }
    target = pathlib.Path(directory) / METADATA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metadata, indent=2) + "\n")


def model_class_name(model):
    """`module.Class` of the model, the KerasHub class behind an adapted one."""
    cls = type(model)
    if isinstance(model, AdaptedModel):
        cls = cls.__mro__[2]
    return f"{cls.__module__}.{cls.__name__}"
