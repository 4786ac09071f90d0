"""`BottleneckAdapter`: the adapter module shared by every bottleneck placement."""

import keras
from keras import ops

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class BottleneckAdapter(keras.layers.Layer):
    """`A(z) = dropout(scaling * (act(LN?(z) W_down + b_down) W_up + b_up))`.

    `W_up` and `b_up` start at zero, so the adapter outputs zeros and the
    model it is inserted into starts as the base model. Weights are named
    `down_kernel`, `down_bias`, `up_kernel`, `up_bias` (and
    `layer_norm_gamma`/`layer_norm_beta` with `layer_norm=True`).

    Args:
        bottleneck_dim: width of the bottleneck, > 0.
        activation: relu, gelu, gelu_approximate, swish, silu, tanh, sigmoid
            or linear.
        scaling: constant factor on the output.
        dropout: dropout rate on the output, in [0, 1).
        layer_norm: normalise the input with a new LayerNormalization.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    adapter = keras_adapters.layers.BottleneckAdapter(bottleneck_dim=16)
    delta = adapter(keras.random.normal((2, 5, 64)))  # zeros at init
    ```
    """

    def __init__(
        self,
        bottleneck_dim,
        activation="relu",
        scaling=1.0,
        dropout=0.0,
        layer_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bottleneck_dim = validation.check_positive_int("bottleneck_dim", bottleneck_dim)
        self.activation = validation.check_activation("activation", activation)
        self.scaling = validation.check_positive_number("scaling", scaling)
        self.dropout = validation.check_dropout("dropout", dropout)
        self.layer_norm = bool(layer_norm)
        self._activation_fn = _activation(activation)
        self._dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if self.bottleneck_dim > hidden_dim:
            raise ValueError(
                f"`bottleneck_dim` must be at most the hidden size {hidden_dim}. "
                f"Received: bottleneck_dim={self.bottleneck_dim}"
            )
        if self.layer_norm:
            self.layer_norm_gamma = self.add_weight(
                shape=(hidden_dim,), initializer="ones", name="layer_norm_gamma"
            )
            self.layer_norm_beta = self.add_weight(
                shape=(hidden_dim,), initializer="zeros", name="layer_norm_beta"
            )
        self.down_kernel = self.add_weight(
            shape=(hidden_dim, self.bottleneck_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="down_kernel",
        )
        self.down_bias = self.add_weight(
            shape=(self.bottleneck_dim,), initializer="zeros", name="down_bias"
        )
        self.up_kernel = self.add_weight(
            shape=(self.bottleneck_dim, hidden_dim), initializer="zeros", name="up_kernel"
        )
        self.up_bias = self.add_weight(shape=(hidden_dim,), initializer="zeros", name="up_bias")

    def call(self, inputs, training=None):
        x = inputs
        if self.layer_norm:
            mean = ops.mean(x, axis=-1, keepdims=True)
            variance = ops.var(x, axis=-1, keepdims=True)
            x = (x - mean) * ops.rsqrt(variance + 1e-5)
            x = x * self.layer_norm_gamma + self.layer_norm_beta
        x = self._activation_fn(ops.matmul(x, self.down_kernel) + self.down_bias)
        x = (ops.matmul(x, self.up_kernel) + self.up_bias) * self.scaling
        return self._dropout_layer(x, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bottleneck_dim": self.bottleneck_dim,
                "activation": self.activation,
                "scaling": self.scaling,
                "dropout": self.dropout,
                "layer_norm": self.layer_norm,
            }
        )
        return config


def _activation(name):
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "gelu":
        return lambda x: keras.activations.gelu(x, approximate=False)
    return keras.activations.get(name)
