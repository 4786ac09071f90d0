"""`LoraWeights`: the `A`, `B` pair of one LoRA adapter."""

import math

import keras
from keras import ops

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class LoraWeights(keras.layers.Layer):
    """Holds `A` (`lora_a`, random) and `B` (`lora_b`, zeros) and the scale.

    The wrapper that owns it (`keras_adapters.layers.LoraDense`,
    `LoraEinsumDense`, `LoraEmbedding`) decides how they multiply its input.

    Args:
        rank: rank `r`, > 0.
        a_shape: shape of `A`; its last axis is `rank`.
        b_shape: shape of `B`; its first axis is `rank`.
        alpha: scale numerator; defaults to `rank`.
        dropout: dropout rate on the LoRA input, in [0, 1).
        use_rslora: scale by `alpha / sqrt(rank)` instead of `alpha / rank`.
        a_initializer: Keras initializer for `A`.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    weights = keras_adapters.layers.LoraWeights(rank=4, a_shape=(64, 4), b_shape=(4, 32))
    ```
    """

    def __init__(
        self,
        rank,
        a_shape,
        b_shape,
        alpha=None,
        dropout=0.0,
        use_rslora=False,
        a_initializer="he_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rank = validation.check_positive_int("rank", rank)
        self.a_shape, self.b_shape = tuple(a_shape), tuple(b_shape)
        if self.a_shape[-1] != rank or self.b_shape[0] != rank:
            raise ValueError(
                f"`a_shape` must end and `b_shape` must start with rank={rank}. "
                f"Received: a_shape={self.a_shape}, b_shape={self.b_shape}"
            )
        self.alpha = float(
            rank if alpha is None else validation.check_positive_number("alpha", alpha)
        )
        self.dropout = validation.check_dropout("dropout", dropout)
        self.use_rslora = bool(use_rslora)
        self.a_initializer = keras.initializers.get(a_initializer)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    @property
    def scale(self):
        return self.alpha / (math.sqrt(self.rank) if self.use_rslora else self.rank)

    def build(self, input_shape=None):
        self.lora_a = self.add_weight(
            shape=self.a_shape, initializer=self.a_initializer, name="lora_a"
        )
        self.lora_b = self.add_weight(shape=self.b_shape, initializer="zeros", name="lora_b")

    def call(self, inputs, training=None):
        """Applies the LoRA input dropout."""
        return self.dropout_layer(inputs, training=training)

    def low_rank_update(self, inputs, factorization):
        """`scale * (inputs A) B`, the products an `EinsumFactorization` names.

        No dropout here: call the module on `inputs` first for that. Where
        the factorisation allows it (`EinsumFactorization.flat_batch_rank`),
        the products are two matmuls on the flattened input, and the scale
        multiplies `B` rather than the full-size output.
        """
        batch_rank = factorization.flat_batch_rank()
        if batch_rank is None:
            low = ops.einsum(factorization.input_equation, inputs, self.lora_a)
            return ops.einsum(factorization.output_equation, low, self.lora_b) * self.scale
        leading = ops.shape(inputs)[:batch_rank]
        flat = ops.reshape(inputs, (-1, math.prod(self.a_shape[:-1])))
        a = ops.reshape(self.lora_a, (-1, self.rank))
        b = ops.reshape(self.lora_b, (self.rank, -1)) * self.scale
        outputs = ops.matmul(ops.matmul(flat, a), b)
        return ops.reshape(outputs, (*leading, *self.b_shape[1:]))

    def merged_delta(self, merge_equation):
        """`scale * A B` shaped like the kernel (`merge_equation` builds it), in float32."""
        a = ops.cast(self.lora_a, "float32")
        b = ops.cast(self.lora_b, "float32")
        return ops.einsum(merge_equation, a, b) * self.scale

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank": self.rank,
                "a_shape": list(self.a_shape),
                "b_shape": list(self.b_shape),
                "alpha": self.alpha,
                "dropout": self.dropout,
                "use_rslora": self.use_rslora,
                "a_initializer": keras.initializers.serialize(self.a_initializer),
            }
        )
        return config
