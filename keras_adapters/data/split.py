"""`deduplicated_split`: a fixed, seeded, de-duplicated three-way split."""

import dataclasses
import hashlib
import numbers

import numpy as np

from keras_adapters.data.text_split import TextSplit


def normalize_text(text):
    """The de-duplication key of a text: lower case, whitespace collapsed."""
    return " ".join(text.lower().split())


@dataclasses.dataclass(frozen=True)
class DeduplicatedSplit:
    """What `keras_adapters.data.deduplicated_split` returns.

    Args:
        train: `keras_adapters.data.TextSplit`.
        validation: `keras_adapters.data.TextSplit`.
        test: `keras_adapters.data.TextSplit`.
        num_rows: int. Rows received.
        num_empty_rows: int. Rows dropped because the text is empty or only
            whitespace.
        num_duplicate_rows: int. Rows dropped as repeats of a kept text
            (same normalised text, same label).
        num_conflicting_rows: int. Rows dropped because their normalised
            text occurs with more than one label.
        num_conflicting_texts: int. Distinct normalised texts dropped for
            conflicting labels.
    """

    train: TextSplit
    validation: TextSplit
    test: TextSplit
    num_rows: int
    num_empty_rows: int
    num_duplicate_rows: int
    num_conflicting_rows: int
    num_conflicting_texts: int

    @property
    def num_kept(self):
        """Distinct texts kept, over all three splits."""
        return len(self.train) + len(self.validation) + len(self.test)


def deduplicated_split(texts, labels, validation_fraction, test_fraction, seed):
    """De-duplicates labelled texts and splits them by a seeded hash.

    Texts are compared after `normalize_text` (lower case, runs of
    whitespace collapsed to one space). A normalised text seen with one
    label is kept once (the lexicographically smallest original spelling);
    one seen with several labels is dropped, and counted. Each kept text
    then goes to a split by `u = sha256(f"{seed}:{normalised}")` read as a
    number in [0, 1): test if `u < test_fraction`, validation if
    `u < test_fraction + validation_fraction`, train otherwise. The result
    depends only on the set of (text, label) pairs and the seed: not on the
    input order, the Python version or the platform, and no normalised text
    is in two splits. Within each split, examples are ordered by that hash,
    so a prefix of a split is a fixed random-like subset.

    Args:
        texts: sequence of str.
        labels: sequence of non-negative int label ids, one per text.
        validation_fraction: float in [0, 1). Expected share of validation.
        test_fraction: float in [0, 1). Expected share of test. The two
            fractions must sum to less than 1.
        seed: int. Changes the assignment of texts to splits.

    Returns:
        A `keras_adapters.data.DeduplicatedSplit` with the three
        `TextSplit`s and the counts of dropped rows.

    Example:
    ```python
    result = keras_adapters.data.deduplicated_split(
        ["Great film", "great  film", "Dull", "Fine"], [1, 1, 0, 1],
        validation_fraction=0.25, test_fraction=0.25, seed=1337,
    )
    result.num_duplicate_rows  # 1
    ```
    """
    check_fractions(validation_fraction, test_fraction)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    groups, counts = deduplicate(texts, labels)
    parts = {"train": [], "validation": [], "test": []}
    for key, (text, label) in groups.items():
        digest = hashlib.sha256(f"{int(seed)}:{key}".encode()).digest()
        position = int.from_bytes(digest[:8], "big") / 2.0**64
        if position < test_fraction:
            name = "test"
        elif position < test_fraction + validation_fraction:
            name = "validation"
        else:
            name = "train"
        parts[name].append((digest, text, label))
    splits = {}
    for name, rows in parts.items():
        rows.sort()
        splits[name] = TextSplit(
            [text for _, text, _ in rows],
            np.array([label for _, _, label in rows], dtype=np.int32),
        )
    return DeduplicatedSplit(**splits, **counts)


def deduplicate(texts, labels):
    """De-duplicates by normalised text; drops texts with conflicting labels.

    Returns:
        A tuple `(groups, counts)`: `groups` maps each kept normalised text
        to `(text, label)`, and `counts` is a dict with the keys
        `num_rows`, `num_empty_rows`, `num_duplicate_rows`,
        `num_conflicting_rows` and `num_conflicting_texts`.
    """
    texts, labels = _check_texts_and_labels(texts, labels)
    seen = {}
    num_empty = 0
    for text, label in zip(texts, labels):
        key = normalize_text(text)
        if not key:
            num_empty += 1
            continue
        seen.setdefault(key, []).append((text, label))
    groups = {}
    num_conflicting_rows = 0
    num_conflicting_texts = 0
    for key, rows in seen.items():
        if len({label for _, label in rows}) > 1:
            num_conflicting_rows += len(rows)
            num_conflicting_texts += 1
            continue
        groups[key] = (min(text for text, _ in rows), rows[0][1])
    num_rows = len(texts)
    counts = {
        "num_rows": num_rows,
        "num_empty_rows": num_empty,
        "num_duplicate_rows": num_rows - num_empty - num_conflicting_rows - len(groups),
        "num_conflicting_rows": num_conflicting_rows,
        "num_conflicting_texts": num_conflicting_texts,
    }
    return groups, counts


def check_fractions(validation_fraction, test_fraction):
    """Raises `ValueError` unless both fractions are in [0, 1), sum < 1."""
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
            raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "`validation_fraction + test_fraction` must be less than 1 so "
            "that some data is left for training. Received: "
            f"validation_fraction={validation_fraction!r}, "
            f"test_fraction={test_fraction!r}"
        )


def _check_texts_and_labels(texts, labels):
    if isinstance(texts, str):
        raise ValueError(f"`texts` must be a sequence of str. Received: texts={texts!r:.80}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"`texts` must hold only str. Received: texts[{i}]={text!r}")
    labels = (
        list(np.asarray(labels).reshape(-1))
        if not isinstance(labels, (list, tuple))
        else list(labels)
    )
    if len(labels) != len(texts):
        raise ValueError(
            "`texts` and `labels` must have the same length. Received: "
            f"len(texts)={len(texts)}, len(labels)={len(labels)}"
        )
    for i, label in enumerate(labels):
        if (
            isinstance(label, (bool, np.bool_))
            or not isinstance(label, numbers.Integral)
            or label < 0
        ):
            raise ValueError(
                f"`labels` must be non-negative integer label ids. Received: labels[{i}]={label!r}"
            )
    return texts, [int(label) for label in labels]
