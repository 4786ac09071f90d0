"""`DoraDense`: DoRA on `keras.layers.Dense`."""

import keras
from keras import ops

from keras_adapters.core.serialization import register
from keras_adapters.methods.dora.dora_einsum_dense import DoraEinsumDense
from keras_adapters.methods.lora.einsum_factorization import DENSE_EQUATION


@register
class DoraDense(DoraEinsumDense):
    """DoRA on a `keras.layers.Dense`: `y = act(r * (x W + s x A B) + b)`, `r = m / ||W + s A B||`.

    The norm runs over the kernel's input axis, one per unit (a `Dense`
    kernel is the `EinsumDense` kernel of `...i,io->...o`, so the rest is
    the same code); the base product is a matmul.

    Args:
        base_layer: the `keras.layers.Dense` to adapt.
        adapters: dict of name to `keras_adapters.layers.DoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.Dense(32)
    base.build((None, 16))
    layer = keras_adapters.layers.DoraDense(base)
    a_shape, b_shape = layer.dora_shapes(rank=4)  # (16, 4), (4, 32)
    layer.add_adapter("a", keras_adapters.layers.DoraWeights(4, a_shape, b_shape))
    ```
    """

    base_class = keras.layers.Dense

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.Dense):
            raise ValueError(
                f"DoraDense wraps a `keras.layers.Dense`. Received: base_layer={base_layer!r}"
            )
        return DENSE_EQUATION

    def _float_product(self, inputs):
        return ops.matmul(inputs, self.kernel)
