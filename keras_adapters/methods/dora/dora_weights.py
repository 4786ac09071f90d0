"""`DoraWeights`: LoRA's `A`, `B` and DoRA's magnitude vector."""

from keras_adapters.core.serialization import register
from keras_adapters.methods.lora.lora_weights import LoraWeights


@register
class DoraWeights(LoraWeights):
    """`A` (random), `B` (zeros) and the magnitude `m`, one entry per output feature.

    `m` has the shape of `B` without its rank axis: the kernel's output axes.
    It starts as ones; the wrapper that adds it
    (`keras_adapters.layers.DoraDense`, `DoraEinsumDense`) sets it to the
    column norms of its kernel, so the adapter starts as the identity. `m` is
    stored in float32 and read in float32 under any dtype policy.

    Args:
        rank: rank `r`, > 0.
        a_shape: shape of `A`; its last axis is `rank`.
        b_shape: shape of `B`; its first axis is `rank`.
        alpha: scale numerator; defaults to `rank`.
        dropout: dropout rate on the input of the update, in [0, 1).
        use_rslora: scale by `alpha / sqrt(rank)` instead of `alpha / rank`.
        a_initializer: Keras initializer for `A`.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    weights = keras_adapters.layers.DoraWeights(rank=4, a_shape=(64, 4), b_shape=(4, 32))
    weights.magnitude_shape  # (32,)
    ```
    """

    @property
    def magnitude_shape(self):
        return self.b_shape[1:]

    def build(self, input_shape=None):
        super().build(input_shape)
        self.magnitude = self.add_weight(
            shape=self.magnitude_shape,
            initializer="ones",
            name="magnitude",
            autocast=False,
        )
