"""`IA3Dense`: IA3 scaling on `keras.layers.Dense`."""

import keras

from keras_adapters.core.serialization import register
from keras_adapters.methods.ia3.ia3_einsum_dense import IA3EinsumDense
from keras_adapters.methods.lora.einsum_factorization import DENSE_EQUATION


@register
class IA3Dense(IA3EinsumDense):
    """IA3 on a `keras.layers.Dense`: `y = base(x) * l` (`[units]`), or `base(x * l)` (`[input_dim]`).

    A `Dense` kernel is the `EinsumDense` kernel of `...i,io->...o` with its
    bias over `o`, so the scaling and merge are the same code.

    Args:
        base_layer: the `keras.layers.Dense` to adapt.
        adapters: dict of name to `keras_adapters.layers.IA3Vector`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.Dense(8, activation="gelu")
    base.build((None, 32))
    layer = keras_adapters.layers.IA3Dense(base)
    layer.add_adapter("a", keras_adapters.layers.IA3Vector((32,), feedforward=True))
    ```
    """

    base_class = keras.layers.Dense

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.Dense):
            raise ValueError(
                f"IA3Dense wraps a `keras.layers.Dense`. Received: base_layer={base_layer!r}"
            )
        return DENSE_EQUATION

    @staticmethod
    def _bias_axes(base_layer):
        return "o"
