"""`LoraEmbedding`: LoRA on a `keras.layers.Embedding`."""

import keras
from keras import ops

from keras_adapters.core.serialization import register
from keras_adapters.methods.lora.lora_wrapper import LoraWrapper


@register
class LoraEmbedding(LoraWrapper):
    """`y = E[ids] + scale * A[ids] B`, with `A` `[vocabulary, r]`, `B` `[r, dim]`.

    For a tied `keras.layers.ReversibleEmbedding` called with `reverse=True`
    (logits), the update is `scale * (x B^T) A^T`, the transpose of the same
    merged table. No dropout applies to integer ids.

    Args:
        base_layer: the `keras.layers.Embedding` to adapt.
        adapters: dict of name to `keras_adapters.layers.LoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the table.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.Embedding(100, 16)
    base.build((None, 8))
    layer = keras_adapters.layers.LoraEmbedding(base)
    a_shape, b_shape = layer.lora_shapes(rank=4)  # (100, 4), (4, 16)
    layer.add_adapter("a", keras_adapters.layers.LoraWeights(4, a_shape, b_shape))
    ```
    """

    base_class = keras.layers.Embedding

    @property
    def kernel(self):
        return self.base_layer.embeddings

    @classmethod
    def lora_shapes_for(cls, base_layer, rank):
        vocabulary, dim = base_layer.embeddings.shape
        return (vocabulary, rank), (rank, dim)

    def kernel_delta(self, module):
        a = ops.cast(module.lora_a, "float32")
        b = ops.cast(module.lora_b, "float32")
        return ops.matmul(a, b) * module.scale

    def call(self, inputs, reverse=False):
        modules = self.pending_modules()
        if reverse:
            return self._call_reverse(inputs, modules)
        outputs = self.base_layer(inputs)
        if not modules:
            return outputs
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        for module in modules:
            low = ops.take(module.lora_a, inputs, axis=0)
            outputs = outputs + ops.matmul(low, module.lora_b) * module.scale
        return outputs

    def _call_reverse(self, inputs, modules):
        base = self.base_layer
        outputs = base(inputs, reverse=True)
        if not modules:
            return outputs
        if not getattr(base, "tie_weights", False) or getattr(base, "logit_soft_cap", None):
            raise NotImplementedError(
                "LoRA on the reverse projection needs a tied `ReversibleEmbedding` without "
                f"`logit_soft_cap`. Received: {base.name!r}"
            )
        for module in modules:
            low = ops.matmul(inputs, ops.transpose(module.lora_b))
            outputs = outputs + ops.matmul(low, ops.transpose(module.lora_a)) * module.scale
        return outputs

    def compute_mask(self, inputs, mask=None):
        return self.base_layer.compute_mask(inputs, mask=mask)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return self.base_layer.compute_output_shape(input_shape, reverse=True)
        return self.base_layer.compute_output_shape(input_shape)
