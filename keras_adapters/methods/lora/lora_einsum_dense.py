"""`LoraEinsumDense`: LoRA on `keras.layers.EinsumDense`."""

import keras
from keras import ops

from keras_adapters.core.serialization import register
from keras_adapters.methods.lora.einsum_factorization import factorize_einsum, kernel_axes
from keras_adapters.methods.lora.lora_wrapper import LoraWrapper
from keras_adapters.methods.lora.quantized_kernel import quantization_mode, quantized_product


@register
class LoraEinsumDense(LoraWrapper):
    """LoRA on a `keras.layers.EinsumDense`, for any equation it can factor.

    `A` covers the kernel axes contracted with the input and `B` the axes
    written to the output (see `keras_adapters.layers.factorize_einsum`), so
    `y = act(einsum(x, W) + b + scale * einsum(einsum(dropout(x), A), B))`.
    A base quantised by Keras (`int8`, `int4`) computes `einsum(x, W)` with its
    own quantised call; `A` and `B` stay float32.

    Args:
        base_layer: the `keras.layers.EinsumDense` to adapt.
        adapters: dict of name to `keras_adapters.layers.LoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 8))
    base.build((None, None, 16))
    layer = keras_adapters.layers.LoraEinsumDense(base)
    a_shape, b_shape = layer.lora_shapes(rank=2)
    layer.add_adapter("a", keras_adapters.layers.LoraWeights(2, a_shape, b_shape))
    ```
    """

    base_class = keras.layers.EinsumDense

    def __init__(self, base_layer, **kwargs):
        factorization = factorize_einsum(self._equation(base_layer))
        super().__init__(base_layer, **kwargs)
        self.factorization = factorization

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.EinsumDense):
            raise ValueError(
                f"LoraEinsumDense wraps a `keras.layers.EinsumDense`. Received: base_layer={base_layer!r}"
            )
        return base_layer.equation

    @property
    def kernel(self):
        return self.base_layer.kernel

    @classmethod
    def lora_shapes_for(cls, base_layer, rank):
        equation = cls._equation(base_layer)
        return factorize_einsum(equation).factor_shapes(
            kernel_axes(equation), base_layer.kernel.shape, rank
        )

    def kernel_delta(self, module):
        return module.merged_delta(self.factorization.merge_equation)

    def _product(self, inputs):
        """`x W` with the float kernel."""
        return ops.einsum(self._equation(self.base_layer), inputs, self.kernel)

    def _preactivation(self, inputs):
        base = self.base_layer
        if quantization_mode(base) is None:
            outputs = self._product(inputs)
        else:
            outputs = quantized_product(base, inputs)
        if base.bias is not None:
            outputs = outputs + base.bias
        return outputs

    def call(self, inputs, training=None):
        modules = self.pending_modules()
        if not modules:
            return self.base_layer(inputs)
        outputs = self._preactivation(inputs)
        factorization = self.factorization.for_input_rank(len(inputs.shape))
        for module in modules:
            outputs = outputs + module.low_rank_update(module(inputs), factorization)
        activation = self.base_layer.activation
        return activation(outputs) if activation is not None else outputs
