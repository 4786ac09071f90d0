"""The slot vocabulary: named places inside a transformer block.

A slot is a role (the query projection, the feed-forward norm...), not an
attribute name; each `keras_adapters.specs.BackboneSpec` says which attribute
of its blocks fills each slot it has. Specs name any subset of the vocabulary,
and the vocabulary grows with `keras_adapters.specs.register_slot` when an
architecture needs a new role.
"""

import types

_SLOTS = {}

SLOTS = types.MappingProxyType(_SLOTS)
"""Read-only view `{slot name: description}` of every registered slot."""

# The linear projections of a block, in call order: what `targets="all-linear"`
# expands to (restricted to the slots a spec defines).
PROJECTION_SLOTS = (
    "query",
    "key",
    "value",
    "query_key_value",
    "attention_output",
    "ffn_gate",
    "ffn_intermediate",
    "ffn_output",
)


def register_slot(name, description):
    """Adds a slot to the vocabulary.

    Args:
        name: a Python identifier, not already a slot.
        description: one line saying what the slot holds.

    Returns:
        `name`.

    Example:
    ```python
    keras_adapters.specs.register_slot("cross_attention", "the cross-attention layer")
    ```
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"`name` must be a Python identifier. Received: name={name!r}")
    if name in _SLOTS:
        raise ValueError(f"Slot {name!r} is already registered: {_SLOTS[name]}")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(
            f"`description` must be a non-empty string. Received: description={description!r}"
        )
    _SLOTS[name] = description
    return name


for _name, _description in (
    ("attention", "the self-attention layer (prefix tuning wraps it)"),
    ("query", "the query projection"),
    ("key", "the key projection (fewer heads under grouped-query attention)"),
    ("value", "the value projection (fewer heads under grouped-query attention)"),
    ("query_key_value", "a fused query/key/value projection"),
    ("attention_output", "the output projection of the attention"),
    ("attention_residual", "last layer of the attention branch, before the residual add"),
    (
        "attention_norm",
        "the attention norm: after the residual add (post-LN) or before attention (pre-LN)",
    ),
    ("ffn_gate", "the gate projection of a gated feed-forward (SwiGLU, GeGLU)"),
    ("ffn_intermediate", "the feed-forward up projection"),
    ("ffn_output", "the feed-forward down projection"),
    ("ffn_residual", "last layer of the feed-forward branch, before the residual add"),
    (
        "ffn_norm",
        "the feed-forward norm: after the residual add (post-LN) or before the FFN (pre-LN)",
    ),
):
    register_slot(_name, _description)
