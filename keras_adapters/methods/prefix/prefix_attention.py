"""`PrefixAttention`: prefix tuning inside any attention layer with an attention spec."""

from keras import ops

from keras_adapters.attention.registry import get_attention_spec
from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.serialization import register


@register
class PrefixAttention(AdapterWrapper):
    """Prepends each active adapter's key/value prefixes inside attention.

    With `P` prefixes: `K = [K_prefix ; K]`, `V = [V_prefix ; V]` where `K`,
    `V` are the keys and values the layer attends to (after its rotary
    embedding and its key/value cache, if it has them), queries keep their
    length, and the mask becomes `[ones(P) ; mask]`, so every query sees
    every prefix while padding, causal and cache masking of the real keys is
    unchanged. The layer's own `call` runs as it is (its projections, LoRA
    on them included); where the prefixes enter is described by the layer's
    `keras_adapters.attention.AttentionSpec`.

    Args:
        base_layer: an attention layer whose class has an attention spec
            (Keras `MultiHeadAttention`, KerasHub's cached and rotary
            attention layers, see `keras_adapters.attention`).
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
        spec = get_attention_spec(base_layer, "Prefix tuning")
        if base_layer.built:
            spec.kv_shape(base_layer)  # refuses unsupported variants (e.g. gated MHA)
        super().__init__(base_layer, **kwargs)

    def __call__(self, *args, **kwargs):
        # Attention classes differ in their call arguments (caches, cache
        # indices, masks). The wrapper takes whatever its base layer takes and
        # lets the base layer's own `__call__` do Keras' argument handling,
        # building, casting and masking; it computes nothing outside it.
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        modules = self.active_modules()
        if not modules:
            return self.base_layer(*args, **kwargs)
        keys, values = zip(*(m.prefixes() for m in modules))
        spec = get_attention_spec(self.base_layer)
        with spec.prepended_keys(
            self.base_layer, ops.concatenate(keys, axis=0), ops.concatenate(values, axis=0)
        ):
            return self.base_layer(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        return self.base_layer.compute_output_spec(*args, **kwargs)
