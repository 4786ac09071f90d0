"""`PrefixAttention`: prefix tuning inside a `keras.layers.MultiHeadAttention`."""

import keras
from keras import ops

from keras_adapters.layers.adapter_wrapper import AdapterWrapper
from keras_adapters.layers.serialization import register


@register
class PrefixAttention(AdapterWrapper):
    """Prepends each active adapter's key/value prefixes inside attention.

    With `P` prefixes: `K = [K_prefix ; x W_k]`, `V = [V_prefix ; x W_v]`,
    queries keep length `T`, and the attention mask becomes
    `[ones(B, T, P), mask]`, so every query sees every prefix and padded real
    tokens stay hidden. The projections used are the base layer's own
    sublayers, read at call time, so LoRA on them composes.

    Args:
        base_layer: a `keras.layers.MultiHeadAttention` (not gated).
        adapters: dict of name to `keras_adapters.layers.PrefixEncoder`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)
    layer = keras_adapters.layers.PrefixAttention(mha)
    ```
    """

    def __init__(self, base_layer, **kwargs):
        if not isinstance(base_layer, keras.layers.MultiHeadAttention) or getattr(
            base_layer, "_use_gate", False
        ):
            raise ValueError(
                "PrefixAttention wraps an ungated `keras.layers.MultiHeadAttention`. "
                f"Received: base_layer={base_layer!r}"
            )
        super().__init__(base_layer, **kwargs)

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        base = self.base_layer
        modules = self.active_modules()
        if not modules:
            return base(
                query,
                value,
                key=key,
                attention_mask=attention_mask,
                return_attention_scores=return_attention_scores,
                training=training,
                use_causal_mask=use_causal_mask,
            )
        key = value if key is None else key
        q = base._query_dense(query)
        k = base._key_dense(key)
        v = base._value_dense(value)
        prefix_keys, prefix_values = zip(*(m.prefixes() for m in modules))
        num_prefixes = sum(m.num_prefix_tokens for m in modules)
        batch = ops.shape(q)[0]
        k = ops.concatenate([_batched(prefix_keys, batch, k.dtype), k], axis=1)
        v = ops.concatenate([_batched(prefix_values, batch, v.dtype), v], axis=1)
        mask = _prefix_mask(attention_mask, use_causal_mask, q, key, num_prefixes)
        outputs, scores = base._compute_attention(
            q, k, v, mask, training, return_attention_scores=return_attention_scores
        )
        outputs = base._output_dense(outputs)
        return (outputs, scores) if return_attention_scores else outputs

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return self.base_layer.compute_output_shape(query_shape, value_shape, key_shape)


def _batched(prefixes, batch, dtype):
    stacked = ops.cast(ops.concatenate(list(prefixes), axis=0), dtype)
    return ops.broadcast_to(stacked[None], (batch,) + tuple(stacked.shape))


def _prefix_mask(attention_mask, use_causal_mask, query, key, num_prefixes):
    """`[B, T, S]` mask (or None) -> `[B, T, P + S]` with the prefixes visible."""
    mask = attention_mask
    if use_causal_mask:
        t, s = ops.shape(query)[1], ops.shape(key)[1]
        rows = ops.expand_dims(ops.arange(t), 1)
        cols = ops.expand_dims(ops.arange(s), 0)
        causal = ops.expand_dims(ops.greater_equal(rows + (s - t), cols), 0)
        mask = causal if mask is None else ops.logical_and(ops.cast(mask, "bool"), causal)
    if mask is None:
        return None
    mask = ops.cast(mask, "bool")
    if len(mask.shape) == 2:
        mask = ops.expand_dims(mask, 1)
    shape = ops.shape(mask)
    visible = ops.ones((shape[0], shape[1], num_prefixes), dtype="bool")
    return ops.concatenate([visible, mask], axis=-1)
