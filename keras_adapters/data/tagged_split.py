"""`TaggedSplit`: the sentences and word tags of one split."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class TaggedSplit:
    """One split of a token classification data set: sentences of words, a tag per word.

    Args:
        sentences: sequence of sentences, each a sequence of words (str).
            Stored as a tuple of tuples.
        tags: sequence of the same length; each entry a sequence with one
            tag (str) per word of its sentence. Stored as a tuple of tuples.

    Example:
    ```python
    split = keras_adapters.data.TaggedSplit([["EU", "rejects"]], [["B-ORG", "O"]])
    len(split), split.num_words  # (1, 2)
    ```
    """

    sentences: tuple
    tags: tuple

    def __post_init__(self):
        sentences = _nested("sentences", self.sentences)
        tags = _nested("tags", self.tags)
        if len(sentences) != len(tags):
            raise ValueError(
                "`sentences` and `tags` must have the same length. Received: "
                f"{len(sentences)} sentences, {len(tags)} tag sequences"
            )
        for index, (words, labels) in enumerate(zip(sentences, tags)):
            if len(words) != len(labels):
                raise ValueError(
                    f"Sentence {index} has {len(words)} words but {len(labels)} tags. "
                    f"Received: sentences[{index}]={list(words)!r:.80}, tags[{index}]="
                    f"{list(labels)!r:.80}"
                )
        object.__setattr__(self, "sentences", sentences)
        object.__setattr__(self, "tags", tags)

    def __len__(self):
        return len(self.sentences)

    @property
    def num_words(self):
        """Words over all sentences."""
        return sum(len(words) for words in self.sentences)

    def take(self, count):
        """The first `count` sentences (all of them if `count` is None)."""
        if count is None:
            return self
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"`count` must be None or a positive integer. Received: {count!r}")
        return TaggedSplit(self.sentences[:count], self.tags[:count])


def _nested(name, value):
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"`{name}` must be a list of sentences, each a list of str. "
            f"Received: {name}={value!r:.80}"
        )
    rows = []
    for index, row in enumerate(value):
        if isinstance(row, str) or not isinstance(row, (list, tuple)):
            raise ValueError(
                f"Each of `{name}` must be a list of str. Received: {name}[{index}]={row!r:.80}"
            )
        if not all(isinstance(item, str) for item in row):
            raise ValueError(
                f"Each of `{name}` must hold only str. Received: {name}[{index}]={row!r:.80}"
            )
        rows.append(tuple(row))
    return tuple(rows)
