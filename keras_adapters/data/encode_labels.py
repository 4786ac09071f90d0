"""`encode_labels`: raw labels (all int or all str) to ids and names."""

import numpy as np


def check_label_names(label_names):
    """Returns `label_names` as a tuple, or raises `ValueError`."""
    if label_names is None:
        return None
    if isinstance(label_names, str) or not isinstance(label_names, (list, tuple)):
        raise ValueError(
            "`label_names` must be None or a list or tuple of str. "
            f"Received: label_names={label_names!r}"
        )
    names = tuple(label_names)
    if (
        not names
        or not all(isinstance(name, str) and name for name in names)
        or len(set(names)) != len(names)
    ):
        raise ValueError(
            "`label_names` must hold distinct non-empty strings. "
            f"Received: label_names={label_names!r}"
        )
    return names


def encode_labels(labels, label_names=None):
    """Maps raw labels to int32 ids and returns them with the label names.

    Integer labels are ids already; their names default to `"0"`, `"1"`,
    ... up to the largest id. String labels get the index of their name in
    `label_names`, which defaults to the sorted distinct strings.

    Args:
        labels: list of int (all) or str (all).
        label_names: optional sequence of str. For integer labels, the name
            of each id (at least `max(labels) + 1` names); for string
            labels, the order of the ids (must include every label).

    Returns:
        A tuple `(ids, names)`: an int32 `np.ndarray` and a tuple of str.
    """
    names = check_label_names(label_names)
    if not labels:
        return np.zeros((0,), np.int32), names or ()
    if isinstance(labels[0], str):
        present = sorted(set(labels))
        if names is None:
            names = tuple(present)
        unknown = [label for label in present if label not in names]
        if unknown:
            raise ValueError(
                f"The data has labels {unknown} that are not in "
                f"`label_names`. Labels found: {present}. "
                f"Received: label_names={label_names!r}"
            )
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[label] for label in labels], np.int32), names
    ids = np.asarray(labels, dtype=np.int64)
    if ids.min() < 0:
        raise ValueError(
            f"Integer labels must be non-negative ids. Received: a label {int(ids.min())}"
        )
    largest = int(ids.max())
    if names is None:
        names = tuple(str(i) for i in range(largest + 1))
    elif len(names) <= largest:
        raise ValueError(
            f"The data has integer labels up to {largest}, so "
            f"`label_names` needs at least {largest + 1} names. "
            f"Received: label_names={label_names!r}"
        )
    return ids.astype(np.int32), names
