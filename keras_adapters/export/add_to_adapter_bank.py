"""`add_to_adapter_bank`: a new version of an adapter bank SavedModel, with one more adapter."""

import json
import pathlib
import shutil

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokeniser ops the SavedModel uses)

from keras_adapters.export.adapter_bank_layout import (
    BANK_COLLECTION,
    HEAD_PREFIX,
    NAMES_VARIABLE,
    AdapterBankLayout,
)
from keras_adapters.export.bank_adapter import BankAdapter
from keras_adapters.export.saved_model_files import METADATA_FILE, saved_model_directory


def add_to_adapter_bank(saved_model_dir, adapter_dir, new_saved_model_dir, name=None):
    """Writes a copy of an adapter bank SavedModel with one more adapter in a free slot.

    Needs neither the model nor its training code: the bank written by
    `keras_adapters.export.export_adapter_bank` is loaded with TensorFlow
    alone, the adapter's factors (zero-padded to the bank's `max_rank`, its
    scale folded into `B`) and its head (or the base head, if it has none)
    are written into the first free slot, its name into the names variable,
    and the result is saved to `new_saved_model_dir`. The graph is the same,
    so the new version serves every adapter of the old one exactly as
    before. `saved_model_dir` is not changed; `new_saved_model_dir` is
    written aside and renamed into place, so a server watching the model
    base path (`models/reviews/1` -> `models/reviews/2`) never sees half of it.

    Everything is checked before the SavedModel is loaded: a full bank, a
    rank above the bank's `max_rank`, sites the bank has no bank for, shapes
    or a backbone that differ, a head that is not a copy of the banked head,
    a method other than LoRA and a name already in the bank are refused with
    an error naming them.

    Args:
        saved_model_dir: a SavedModel written by `export_adapter_bank` (or by
            this function).
        adapter_dir: a LoRA adapter directory written by
            `keras_adapters.save_adapter`.
        new_saved_model_dir: the SavedModel to write; must not exist (or be
            an empty directory).
        name: the adapter's name in the bank; defaults to its saved name.

    Returns:
        The `pathlib.Path` of the new SavedModel.

    Example:
    ```python
    keras_adapters.export.add_to_adapter_bank(
        "models/reviews/1", "adapters/games", "models/reviews/2"
    )
    ```
    """
    source, target = pathlib.Path(saved_model_dir), pathlib.Path(new_saved_model_dir)
    metadata = read_bank_metadata(source)
    layout = AdapterBankLayout.from_json(metadata["bank"])
    adapter = BankAdapter.read(adapter_dir, name)
    slot = layout.check_adapter(adapter)
    if target.resolve() == source.resolve() or (target.exists() and any(target.iterdir())):
        raise ValueError(
            "`new_saved_model_dir` must be a new directory (for TF Serving, the next version "
            f"number beside {source.name!r}). Received: new_saved_model_dir={str(target)!r}"
        )
    loaded = tf.saved_model.load(str(source))
    variables = dict(zip(layout.variable_keys(), getattr(loaded, BANK_COLLECTION)))
    base_head = {path: variables[HEAD_PREFIX + path][0].numpy() for path in layout.head}
    for key, value in layout.slot_values(adapter, base_head).items():
        variables[key][slot].assign(value)
    layout.place(slot, adapter)
    variables[NAMES_VARIABLE].assign(layout.names)
    with saved_model_directory(target, overwrite=False) as directory:
        tf.saved_model.save(loaded, str(directory), signatures=dict(loaded.signatures))
        extra = source / pathlib.Path(METADATA_FILE).parent
        shutil.copytree(extra, directory / extra.name, dirs_exist_ok=True)
        metadata["bank"] = layout.to_json()
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return target


def read_bank_metadata(path):
    """The export metadata of an adapter bank SavedModel; a clear error for anything else."""
    metadata_file = pathlib.Path(path) / METADATA_FILE
    try:
        metadata = json.loads(metadata_file.read_text())
    except (OSError, json.JSONDecodeError):
        metadata = None
    if not isinstance(metadata, dict) or "bank" not in metadata:
        raise ValueError(
            "`saved_model_dir` must be an adapter bank SavedModel written by "
            "`keras_adapters.export.export_adapter_bank` (with "
            f"{METADATA_FILE} describing the bank). Received: saved_model_dir={str(path)!r}"
        )
    return metadata
