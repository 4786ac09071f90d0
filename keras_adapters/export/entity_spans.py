"""`entity_spans`: BIO tag ids to entity spans inside a TensorFlow graph."""

import re

import tensorflow as tf

OUTSIDE, BEGIN, INSIDE = 0, 1, 2
_TAG = re.compile(r"^(?:O|([BI])-(\S+))$")


def tag_table(tag_names):
    """Per tag id: its kind (0 = O, 1 = B, 2 = I) and its type index; and the type names.

    Args:
        tag_names: list of BIO tags (`"O"`, `"B-PER"`, ...).

    Returns:
        A tuple `(kinds, types, type_names)`: two lists of int, one entry
        per tag (`types` is -1 for `"O"`), and the sorted entity types.
    """
    parts = []
    for tag in tag_names:
        match = _TAG.match(tag) if isinstance(tag, str) else None
        if match is None:
            raise ValueError(
                f"`tag_names` must be 'O', 'B-TYPE' or 'I-TYPE' tags. Received: tag={tag!r}"
            )
        parts.append((match.group(1) or "O", match.group(2) or ""))
    type_names = sorted({kind for _, kind in parts} - {""})
    kinds = [{"O": OUTSIDE, "B": BEGIN, "I": INSIDE}[prefix] for prefix, _ in parts]
    types = [type_names.index(kind) if kind else -1 for _, kind in parts]
    return kinds, types, type_names


def entity_spans(tag_ids, kinds, types):
    """The entities of each row of tag ids, read as conlleval reads BIO tags.

    The graph counterpart of `keras_adapters.models.bio_entities`: `B-X`
    starts an entity; `I-X` continues an `X` entity right before it and
    otherwise starts one; `O` ends one. Entities never cross rows.

    Args:
        tag_ids: int `tf.RaggedTensor` `[batch, (words)]`.
        kinds: list of int per tag id (0 = O, 1 = B, 2 = I), from
            `tag_table`.
        types: list of int per tag id (type index, -1 for O).

    Returns:
        A tuple `(type_ids, first, last)` of int32 ragged tensors
        `[batch, (entities)]`: each entity's type index, and the index in
        its row of its first and last word (inclusive).
    """
    tag_ids = tf.cast(tag_ids, "int32")
    flat = tag_ids.flat_values
    kind = tf.gather(tf.constant(kinds, "int32"), flat)
    kind_type = tf.gather(tf.constant(types, "int32"), flat)
    count = tf.shape(flat)[0]
    row_ids = tf.cast(tag_ids.value_rowids(), "int32")
    row_starts = tf.gather(tf.cast(tag_ids.row_splits, "int32"), row_ids)
    index = tf.range(count, dtype="int32")
    opens_row = tf.equal(index, row_starts)
    previous_kind = tf.where(opens_row, OUTSIDE, tf.concat([[OUTSIDE], kind[:-1]], axis=0))
    previous_type = tf.concat([[-1], kind_type[:-1]], axis=0)
    starts = tf.logical_or(
        tf.equal(kind, BEGIN),
        tf.logical_and(
            tf.equal(kind, INSIDE),
            tf.logical_or(tf.equal(previous_kind, OUTSIDE), tf.not_equal(previous_type, kind_type)),
        ),
    )
    # Every tagged word belongs to the entity most recently started.
    entity_of_word = tf.cumsum(tf.cast(starts, "int32")) - 1
    inside = tf.not_equal(kind, OUTSIDE)
    num_entities = tf.reduce_sum(tf.cast(starts, "int32"))
    last = tf.math.unsorted_segment_max(
        tf.boolean_mask(index, inside), tf.boolean_mask(entity_of_word, inside), num_entities
    )
    first = tf.boolean_mask(index, starts)
    entity_rows = tf.boolean_mask(row_ids, starts)
    offset = tf.gather(row_starts, first)
    nrows = tag_ids.nrows(out_type="int32")

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, entity_rows, nrows=nrows)

    return (
        ragged(tf.boolean_mask(kind_type, starts)),
        ragged(first - offset),
        ragged(last - offset),
    )
