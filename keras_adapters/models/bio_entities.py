"""`bio_entities`: the entity spans of a BIO tag sequence, read as conlleval reads them."""

import re

# "O", or "B-"/"I-" and a non-empty entity type.
_TAG = re.compile(r"^(?:O|([BI])-(\S+))$")


def split_tag(tag):
    """`(prefix, type)` of a BIO tag: `("O", "")`, `("B", "PER")`, `("I", "PER")`.

    Raises:
        ValueError: `tag` is not `"O"`, `"B-TYPE"` or `"I-TYPE"`.
    """
    match = _TAG.match(tag) if isinstance(tag, str) else None
    if match is None:
        raise ValueError(f"Tags must be 'O', 'B-TYPE' or 'I-TYPE'. Received: tag={tag!r}")
    return (match.group(1), match.group(2)) if match.group(1) else ("O", "")


def bio_entities(tags):
    """Returns the entities of one tag sequence as `(type, start, end)` word spans.

    Spans are read the way the CoNLL shared tasks' `conlleval` script reads
    them, so IOB1 and IOB2 tags both work and no tag is ever dropped:

    - `B-X` always starts an entity of type `X`;
    - `I-X` continues the entity before it if that entity has type `X`, and
      otherwise (after `O`, after an entity of another type, or first in
      the sentence) starts a new entity of type `X`;
    - `O` ends the entity before it.

    Args:
        tags: sequence of str, one BIO tag per word (`"O"`, `"B-PER"`, ...).

    Returns:
        A list of `(type, start, end)` tuples, `end` exclusive, in order.

    Example:
    ```python
    keras_adapters.models.bio_entities(["B-PER", "I-PER", "O", "I-LOC", "I-ORG"])
    # [("PER", 0, 2), ("LOC", 3, 4), ("ORG", 4, 5)]
    ```
    """
    entities = []
    current = None  # [type, start] of the open entity
    for index, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        continues = prefix == "I" and current is not None and current[0] == kind
        if current is not None and not continues:
            entities.append((current[0], current[1], index))
            current = None
        if prefix != "O" and not continues:
            current = [kind, index]
    if current is not None:
        entities.append((current[0], current[1], len(tags)))
    return entities
