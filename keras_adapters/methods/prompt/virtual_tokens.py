"""Reserving the prompt's positions in packed inputs (TensorFlow, like KerasHub preprocessing).

Prompt tuning keeps the model's input signature: the `P` prompt positions are
ordinary positions of `token_ids` holding virtual token ids (`V`, `V + 1`,
... for a vocabulary of `V` rows), which
`keras_adapters.layers.PromptEmbedding` embeds as the prompt vectors. These
functions put them into (and take them out of) the packed inputs a KerasHub
preprocessor produces.
"""

import tensorflow as tf


def insert_virtual_tokens(
    x,
    first_id,
    count,
    start_tokens,
    y=None,
    sample_weight=None,
    token_targets=False,
    pad_id=0,
):
    """Inserts `count` virtual tokens after the first `start_tokens` positions.

    Every per-token input (same rank as `token_ids`) gets `count` positions
    more: `token_ids` the ids `first_id ... first_id + count - 1`,
    `padding_mask` ones (the prompt is attended to), anything else (segment
    ids) zeros. With `token_targets` (causal LM data, where `y` is the next
    token of every position) the targets stay aligned: the positions whose
    next token is a virtual one get target `pad_id` and sample weight 0, and
    the last virtual position predicts the first real token after the start
    tokens.

    Args:
        x: dict of packed inputs with `token_ids` and `padding_mask`.
        first_id: the first virtual id (the vocabulary size).
        count: number of virtual tokens, > 0.
        start_tokens: how many leading positions stay in front (the start
            token the preprocessor adds, or 0).
        y: targets, or `None`.
        sample_weight: sample weights, or `None`.
        token_targets: `y` holds per-token targets to keep aligned.
        pad_id: the target written where the next token is virtual.

    Returns:
        `(x, y, sample_weight)`.
    """
    if not isinstance(x, dict) or "token_ids" not in x or "padding_mask" not in x:
        raise ValueError(
            "Prompt positions are reserved in packed inputs: a dict with `token_ids` and "
            f"`padding_mask`. Received: {type(x).__name__}"
            + (f" with keys {sorted(x)}" if isinstance(x, dict) else "")
        )
    rank = tf.convert_to_tensor(x["token_ids"]).shape.rank
    virtual_ids = first_id + tf.range(count)
    packed = {}
    for key, value in x.items():
        value = tf.convert_to_tensor(value)
        if value.shape.rank != rank:
            packed[key] = value
            continue
        fill = {"token_ids": virtual_ids, "padding_mask": tf.ones([count], "int32")}.get(
            key, tf.zeros([count], "int32")
        )
        packed[key] = _insert(value, fill, start_tokens)
    if token_targets and y is not None:
        y = tf.convert_to_tensor(y)
        weights = tf.ones_like(y, "float32") if sample_weight is None else sample_weight
        weights = tf.convert_to_tensor(weights)
        at = max(start_tokens - 1, 0)
        y = _insert(y, tf.fill([count], pad_id), at)
        sample_weight = _insert(weights, tf.zeros([count], "int32"), at)
    return packed, y, sample_weight


def hide_virtual_tokens(x, first_id, pad_id=0):
    """`x` with its virtual tokens masked out (as padding), e.g. before detokenising."""
    token_ids = tf.convert_to_tensor(x["token_ids"])
    padding_mask = tf.convert_to_tensor(x["padding_mask"])
    virtual = token_ids >= first_id
    real = tf.logical_and(tf.cast(padding_mask, "bool"), tf.logical_not(virtual))
    return {
        **x,
        "token_ids": tf.where(virtual, tf.cast(pad_id, token_ids.dtype), token_ids),
        "padding_mask": tf.cast(real, padding_mask.dtype),
    }


def _insert(tensor, fill, at):
    """`fill` (`[count]`) inserted at position `at` of the last axis of every row."""
    fill = tf.cast(fill, tensor.dtype)
    shape = tf.concat([tf.shape(tensor)[:-1], tf.shape(fill)], axis=0)
    fill = tf.broadcast_to(fill, shape)
    return tf.concat([tensor[..., :at], fill, tensor[..., at:]], axis=-1)
