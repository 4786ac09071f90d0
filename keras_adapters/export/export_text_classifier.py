"""`export_text_classifier`: a KerasHub text classifier as a TF Serving SavedModel."""

import contextlib
import pathlib

import keras
import tensorflow as tf

from keras_adapters.export.adapter_views import merged_adapters, only_active
from keras_adapters.export.saved_model_files import (
    check_export_arguments,
    saved_model_directory,
    write_metadata,
)
from keras_adapters.injection.adapter_state import get_state

ADAPTER_MODES = ("merged", "switchable")
INPUT_NAME = "texts"
DEFAULT_SIGNATURE = "serving_default"
ADAPTER_SIGNATURE_PREFIX = "adapter_"


def export_text_classifier(model, path, *, label_names, adapters="merged", overwrite=False):
    """Writes a text classifier as a TensorFlow SavedModel for TF Serving.

    The `serving_default` signature takes a batch of raw strings (input
    `texts`, `tf.string` of shape `[batch]`) and returns `logits` (float32
    `[batch, classes]`), `probabilities` (their softmax) and `label` (the
    predicted entry of `label_names`, `tf.string` `[batch]`). Tokenisation is
    the model's own KerasHub preprocessor, traced into the graph (it uses
    TensorFlow Text ops, which the server must have).

    Adapters are exported in one of two modes:

    - `"merged"`: active LoRA updates are merged into the base kernels while
      tracing, so the graph holds base matmuls only and no LoRA variables.
      Other active adapters (bottleneck, prefix) run as they are.
    - `"switchable"`: adapters stay unmerged. `serving_default` runs the
      currently active adapters, and each adapter `name` of the model gets a
      signature `adapter_<name>` that runs it alone. All signatures share
      one copy of the variables.

    The model is left exactly as it was (kernels bit for bit, active set,
    trainable flags, compiled state), also if the export fails. The
    SavedModel is written to a temporary sibling of `path` and renamed into
    place, so `path` is never half-written.

    Args:
        model: a KerasHub text classifier (e.g.
            `keras_hub.models.BertTextClassifier`) with a preprocessor and
            logits output, with or without adapters.
        path: the SavedModel directory to write (for TF Serving, a numbered
            version directory such as `models/sentiment/1`).
        label_names: one string per class, in the order of the logits.
        adapters: `"merged"` or `"switchable"`.
        overwrite: replace an existing SavedModel written by this function.
            A directory that is not one is never replaced.

    Returns:
        The `pathlib.Path` of the SavedModel.

    Example:
    ```python
    keras_adapters.export.export_text_classifier(
        classifier, "models/sentiment/1", label_names=["negative", "positive"]
    )
    outputs = keras_adapters.export.verify_saved_model(
        "models/sentiment/1", ["a gripping, funny film"]
    )
    ```
    """
    label_names = _check_arguments(model, label_names, adapters, overwrite)
    path = pathlib.Path(path)
    with saved_model_directory(path, overwrite) as directory:
        if adapters == "merged":
            signatures = _write_merged(model, label_names, directory)
        else:
            signatures = _write_switchable(model, label_names, directory)
        write_metadata(
            directory,
            model,
            input=INPUT_NAME,
            outputs=["logits", "probabilities", "label"],
            label_names=label_names,
            adapters=adapters,
            signatures=signatures,
        )
    return path


# === Validation ===


def _check_arguments(model, label_names, adapters, overwrite):
    """Checks everything before anything changes; returns `label_names` as a list."""
    check_export_arguments(model, overwrite, "text classifier")
    activation = getattr(model, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        raise ValueError(
            "`model` must output logits (a classifier built with `activation=None`). "
            f"Received: activation={getattr(activation, '__name__', activation)!r}"
        )
    names = _as_list(label_names)
    if names is None or not all(isinstance(name, str) for name in names):
        raise ValueError(
            "`label_names` must be a list of strings, one per class. "
            f"Received: label_names={label_names!r}"
        )
    classes = _num_classes(model)
    if len(names) != classes:
        raise ValueError(
            f"`label_names` must name each of the {classes} classes of {model.name!r}. "
            f"Received: label_names={names!r} ({len(names)} names)"
        )
    if not isinstance(adapters, str) or adapters not in ADAPTER_MODES:
        raise ValueError(
            f"`adapters` must be one of {list(ADAPTER_MODES)}. Received: adapters={adapters!r}"
        )
    state = get_state(model)
    if adapters == "switchable" and state is not None and state.merged:
        raise ValueError(
            f"adapters='switchable' keeps adapters unmerged, but {list(state.merged)} are merged "
            "into the base weights of "
            f"{model.name!r}. Call `keras_adapters.unmerge_adapters(model)` first, or export "
            "with adapters='merged'. Received: adapters='switchable'"
        )
    return names


def _as_list(value):
    if isinstance(value, (str, bytes)):
        return None
    try:
        return list(value)
    except TypeError:
        return None


def _num_classes(model):
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) == 1 and outputs[0].shape[-1] is not None:
        return int(outputs[0].shape[-1])
    classes = getattr(model, "num_classes", None)
    if classes is None:
        raise ValueError(
            f"Cannot tell how many classes {model.name!r} predicts: it has no single output "
            "and no `num_classes`."
        )
    return int(classes)


# === Tracing and writing ===


def _serving_function(model, label_names, adapter_name=None):
    """The function behind a signature: raw strings in, three outputs out.

    With `adapter_name`, the function itself selects that adapter while it
    is traced. `tf.saved_model.save` traces every endpoint again when it
    writes it, so the choice must travel with the function rather than be
    set around one trace.
    """
    preprocessor = model.preprocessor

    def serve(texts):
        view = only_active(model, [adapter_name]) if adapter_name else contextlib.nullcontext()
        with view:  # the preprocessor too: prompt tuning reserves positions there
            x = keras.utils.unpack_x_y_sample_weight(preprocessor(texts))[0]
            logits = tf.cast(model(x, training=False), tf.float32)
        label = tf.gather(tf.constant(label_names), tf.argmax(logits, axis=-1))
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label": label,
        }

    return serve


def _add_signature(archive, name, model, label_names, adapter_name=None):
    endpoint = archive.add_endpoint(
        name,
        _serving_function(model, label_names, adapter_name),
        input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)],
    )
    # Trace now (`write_out` reuses this trace to list variables): it builds
    # a preprocessor that never ran, which `archive.track` requires.
    endpoint.get_concrete_function()


def _finish(archive, model, directory):
    # The preprocessor is tracked for its lookup tables (some tokenizers have
    # them); variables are only those the signatures use, so adapters that
    # are merged or inactive leave no variables behind.
    archive.track(model.preprocessor)
    archive.write_out(str(directory), verbose=False)


def _write_merged(model, label_names, directory):
    archive = keras.export.ExportArchive()
    # Variables are written at `write_out`, so the merged kernels must still
    # be in place then.
    with merged_adapters(model) as merged:
        _add_signature(archive, DEFAULT_SIGNATURE, model, label_names)
        _finish(archive, model, directory)
    return {DEFAULT_SIGNATURE: {"active": _active(model), "merged": list(merged)}}


def _write_switchable(model, label_names, directory):
    archive = keras.export.ExportArchive()
    _add_signature(archive, DEFAULT_SIGNATURE, model, label_names)
    signatures = {DEFAULT_SIGNATURE: {"active": _active(model), "merged": []}}
    state = get_state(model)
    for name in state.configs if state is not None else ():
        _add_signature(archive, ADAPTER_SIGNATURE_PREFIX + name, model, label_names, name)
        signatures[ADAPTER_SIGNATURE_PREFIX + name] = {"active": [name], "merged": []}
    _finish(archive, model, directory)
    return signatures


def _active(model):
    state = get_state(model)
    return list(state.active) if state is not None and state.enabled else []
