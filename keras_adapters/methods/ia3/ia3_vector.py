"""`IA3Vector`: the learned vector of one IA3 adapter at one layer."""

import numbers

import keras

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class IA3Vector(keras.layers.Layer):
    """Holds `l` (`ia3_l`, ones at init) and whether it scales the input or the output.

    The wrapper that owns it (`keras_adapters.layers.IA3Dense`,
    `IA3EinsumDense`) multiplies its layer's output (or, for a feedforward
    target, its input) by `l`.

    Args:
        scale_shape: shape of `l`: the sizes of the kernel's output axes (its
            input axes for a feedforward target), in kernel order, e.g.
            `(num_heads, head_dim)` for a key projection.
        feedforward: whether `l` scales the layer's input (else its output).
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    vector = keras_adapters.layers.IA3Vector((4, 8))
    ```
    """

    def __init__(self, scale_shape, feedforward=False, **kwargs):
        super().__init__(**kwargs)
        if not (
            isinstance(scale_shape, (list, tuple))
            and scale_shape
            and all(
                isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
                for d in scale_shape
            )
        ):
            raise ValueError(
                "`scale_shape` must be a non-empty list of positive integers. "
                f"Received: scale_shape={scale_shape!r}"
            )
        self.scale_shape = tuple(int(d) for d in scale_shape)
        self.feedforward = validation.check_bool("feedforward", feedforward)

    def build(self, input_shape=None):
        self.ia3_l = self.add_weight(shape=self.scale_shape, initializer="ones", name="ia3_l")

    def get_config(self):
        config = super().get_config()
        config.update({"scale_shape": list(self.scale_shape), "feedforward": self.feedforward})
        return config
