"""`LoraDense`: LoRA on `keras.layers.Dense`."""

import keras
from keras import ops

from keras_adapters.core.serialization import register
from keras_adapters.methods.lora.einsum_factorization import DENSE_EQUATION
from keras_adapters.methods.lora.lora_einsum_dense import LoraEinsumDense


@register
class LoraDense(LoraEinsumDense):
    """LoRA on a `keras.layers.Dense`: `y = act(x W + b + scale * dropout(x) A B)`.

    A `Dense` kernel is the `EinsumDense` kernel of `...i,io->...o`, so the
    update and merge are the same code; only the base product is a matmul.

    Args:
        base_layer: the `keras.layers.Dense` to adapt.
        adapters: dict of name to `keras_adapters.layers.LoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.Dense(32)
    base.build((None, 16))
    layer = keras_adapters.layers.LoraDense(base)
    a_shape, b_shape = layer.lora_shapes(rank=4)  # (16, 4), (4, 32)
    layer.add_adapter("a", keras_adapters.layers.LoraWeights(4, a_shape, b_shape))
    ```
    """

    base_class = keras.layers.Dense

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.Dense):
            raise ValueError(
                f"LoraDense wraps a `keras.layers.Dense`. Received: base_layer={base_layer!r}"
            )
        return DENSE_EQUATION

    def _product(self, inputs):
        return ops.matmul(inputs, self.kernel)
