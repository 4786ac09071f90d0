"""`TokenClassificationData`: sentences with a tag per word, split three ways."""

import collections
import dataclasses

import numpy as np

from keras_adapters.data.tagged_split import TaggedSplit
from keras_adapters.models.bio_entities import bio_entities, split_tag

SPLIT_NAMES = ("train", "validation", "test")


def tag_vocabulary(tags):
    """The tag names for a set of BIO tags: `"O"`, then `B-X`, `I-X` per type, types sorted.

    Both tags of every type seen are included, so a type seen only as
    `B-X` still has an id for `I-X`.

    Args:
        tags: sentences of BIO tags (list of lists of str).

    Returns:
        A tuple of str, e.g. `("O", "B-LOC", "I-LOC", "B-PER", "I-PER")`.

    Example:
    ```python
    keras_adapters.data.tag_vocabulary([["B-PER", "O", "I-LOC"]])
    # ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    ```
    """
    kinds = sorted({split_tag(tag)[1] for sentence in tags for tag in sentence} - {""})
    return ("O",) + tuple(f"{prefix}-{kind}" for kind in kinds for prefix in "BI")


@dataclasses.dataclass(frozen=True)
class TokenClassificationData:
    """A token classification (NER) data set with train, validation and test splits.

    Made by `keras_adapters.data.load_token_classification`.

    Args:
        train: `keras_adapters.data.TaggedSplit`.
        validation: `keras_adapters.data.TaggedSplit`.
        test: `keras_adapters.data.TaggedSplit`.
        tag_names: tuple of str. The tag of each id: `"O"` and BIO tags,
            usually `keras_adapters.data.tag_vocabulary(train.tags)`. Every
            tag of every split must be one of them.
        source: str. Where the data came from.

    Example:
    ```python
    data = keras_adapters.data.load_token_classification("conll2003")
    print(data.summary())
    ```
    """

    train: TaggedSplit
    validation: TaggedSplit
    test: TaggedSplit
    tag_names: tuple
    source: str

    def __post_init__(self):
        for name in SPLIT_NAMES:
            value = getattr(self, name)
            if not isinstance(value, TaggedSplit):
                raise ValueError(
                    f"`{name}` must be a `keras_adapters.data.TaggedSplit`. "
                    f"Received: {name}={value!r:.80}"
                )
        names = self.tag_names
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise ValueError(f"`tag_names` must be a tuple of str. Received: tag_names={names!r}")
        names = tuple(names)
        for tag in names:
            split_tag(tag)
        if "O" not in names or len(set(names)) != len(names):
            raise ValueError(
                f"`tag_names` must hold 'O' and no tag twice. Received: tag_names={names!r}"
            )
        object.__setattr__(self, "tag_names", names)
        if not isinstance(self.source, str):
            raise ValueError(f"`source` must be a str. Received: source={self.source!r}")
        known = set(names)
        for name in SPLIT_NAMES:
            unknown = collections.Counter(
                tag for tags in getattr(self, name).tags for tag in tags if tag not in known
            )
            if unknown:
                raise ValueError(
                    f"The {name} split has tags that are not in `tag_names`: "
                    f"{dict(sorted(unknown.items()))} (tag: count). Tags are taken from the "
                    f"training split; an entity type must occur there. Received: "
                    f"tag_names={names!r}"
                )

    @property
    def num_tags(self):
        """The number of tag names."""
        return len(self.tag_names)

    @property
    def entity_types(self):
        """The entity types, sorted (e.g. `("LOC", "MISC", "ORG", "PER")`)."""
        return tuple(sorted({split_tag(tag)[1] for tag in self.tag_names} - {""}))

    def split(self, name):
        """Returns the `TaggedSplit` called `name` (train, validation, test)."""
        if name not in SPLIT_NAMES:
            raise ValueError(
                f"`split` must be one of {list(SPLIT_NAMES)}. Received: split={name!r}"
            )
        return getattr(self, name)

    def tag_ids(self, split, limit=None):
        """The tags of a split as ids: a list of int32 arrays, one per sentence.

        Args:
            split: str. `"train"`, `"validation"` or `"test"`.
            limit: optional int. Only the first `limit` sentences.
        """
        index = {tag: i for i, tag in enumerate(self.tag_names)}
        part = self.split(split).take(limit)
        return [np.array([index[tag] for tag in tags], dtype=np.int32) for tags in part.tags]

    def summary(self):
        """A short text: source, tags, and per split sentences, words and entities per type.

        Example:
        ```python
        print(keras_adapters.data.load_token_classification("conll2003").summary())
        ```
        """
        lines = [f"source: {self.source}", f"tags: {', '.join(self.tag_names)}"]
        for name in SPLIT_NAMES:
            part = getattr(self, name)
            kinds = collections.Counter(
                kind for tags in part.tags for kind, _, _ in bio_entities(tags)
            )
            shown = "  ".join(f"{kind} {kinds[kind]:,}" for kind in self.entity_types)
            lines.append(
                f"{name:<10} {len(part):>6,} sentences {part.num_words:>8,} words   "
                f"entities: {shown}"
            )
        return "\n".join(lines)
