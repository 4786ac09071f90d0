"""`FusionLayer`: attention over the outputs of several adapters at one site."""

import keras
from keras import ops

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class FusionLayer(keras.layers.Layer):
    """`Σ_n softmax_n((z Q + b_Q)·(o_n K + b_K) / T) · o_n V` over adapter outputs `o_n`.

    Weights `query_kernel`/`query_bias`, `key_kernel`/`key_bias` (`[d, d]`,
    `[d]`, small random and zero) and `value_kernel` (`[d, d]`, the
    identity), so a new fusion averages its adapters' outputs.

    Args:
        fused_adapters: the names of the adapters whose outputs it combines.
        temperature: the softmax temperature.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    fusion = keras_adapters.layers.FusionLayer(["a", "b"])
    fusion.build((None, None, 16))
    delta = fusion(hidden, [output_a, output_b])
    ```
    """

    def __init__(self, fused_adapters, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.fused_adapters = tuple(fused_adapters)
        self.temperature = validation.check_positive_number("temperature", temperature)

    def build(self, input_shape):
        width = input_shape[-1]
        small = keras.initializers.RandomNormal(stddev=0.02)
        self.query_kernel = self.add_weight(
            shape=(width, width), initializer=small, name="query_kernel"
        )
        self.query_bias = self.add_weight(shape=(width,), initializer="zeros", name="query_bias")
        self.key_kernel = self.add_weight(
            shape=(width, width), initializer=small, name="key_kernel"
        )
        self.key_bias = self.add_weight(shape=(width,), initializer="zeros", name="key_bias")
        self.value_kernel = self.add_weight(
            shape=(width, width), initializer="identity", name="value_kernel"
        )

    def call(self, inputs, outputs, training=None):
        stacked = ops.stack(outputs, axis=-2)  # [..., n, d]
        query = ops.matmul(inputs, self.query_kernel) + self.query_bias  # [..., d]
        keys = ops.matmul(stacked, self.key_kernel) + self.key_bias  # [..., n, d]
        scores = ops.sum(keys * ops.expand_dims(query, -2), axis=-1) / self.temperature
        weights = ops.softmax(ops.cast(scores, "float32"), axis=-1)
        values = ops.matmul(stacked, self.value_kernel)
        return ops.sum(values * ops.cast(ops.expand_dims(weights, -1), values.dtype), axis=-2)

    def compute_output_shape(self, input_shape, outputs_shape=None):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "fused_adapters": list(self.fused_adapters),
            "temperature": self.temperature,
        }
