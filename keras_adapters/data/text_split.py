"""`TextSplit`: the texts and label ids of one split."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class TextSplit:
    """One split of a text classification data set.

    Args:
        texts: list of str. The texts.
        labels: `np.ndarray` of int32, shape `(len(texts),)`. Label ids; a
            sequence of ints is accepted and converted.

    Example:
    ```python
    split = keras_adapters.data.TextSplit(["good", "bad"], [1, 0])
    len(split)  # 2
    ```
    """

    texts: list
    labels: np.ndarray

    def __post_init__(self):
        texts = self.texts
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise ValueError(f"`texts` must be a list of str. Received: texts={texts!r:.80}")
        bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
        if bad:
            raise ValueError(
                f"`texts` must hold only str. Received: texts[{bad[0]}]={texts[bad[0]]!r}"
            )
        labels = np.asarray(self.labels)
        if labels.size == 0:
            labels = labels.astype(np.int32).reshape((0,))
        if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(
                "`labels` must be a 1-D array of integers. Received: labels "
                f"with dtype={labels.dtype} and shape={labels.shape}"
            )
        if len(labels) != len(texts):
            raise ValueError(
                "`texts` and `labels` must have the same length. Received: "
                f"len(texts)={len(texts)}, len(labels)={len(labels)}"
            )
        if len(labels) and labels.min() < 0:
            raise ValueError(
                f"`labels` must be non-negative label ids. Received: min(labels)={labels.min()}"
            )
        object.__setattr__(self, "texts", list(texts))
        object.__setattr__(self, "labels", labels.astype(np.int32))

    def __len__(self):
        return len(self.texts)

    def label_counts(self, num_labels):
        """Returns the number of examples of each label id, as a list."""
        return np.bincount(self.labels, minlength=num_labels).tolist()
