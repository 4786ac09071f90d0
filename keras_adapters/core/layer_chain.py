"""`LayerChain`: sublayers called one after the other, each under its slot name."""

import keras

from keras_adapters.core.serialization import register


@register
class LayerChain(keras.layers.Layer):
    """Calls `layers[slot]` for each slot in order, feeding each the last output.

    The layers are attributes named after their slots, so they keep their
    names in saved files and can themselves be wrapped (e.g. by LoRA).

    Args:
        layers: ordered dict of slot name to layer.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    chain = keras_adapters.layers.LayerChain(
        {"ffn_intermediate": keras.layers.Dense(32), "ffn_output": keras.layers.Dense(8)}
    )
    ```
    """

    def __init__(self, layers, **kwargs):
        if not layers or not all(isinstance(v, keras.layers.Layer) for v in layers.values()):
            raise ValueError(
                f"`layers` must be a non-empty dict of slot name to layer. Received: layers={layers!r}"
            )
        first = next(iter(layers.values()))
        kwargs.setdefault("dtype", first.dtype_policy)
        super().__init__(**kwargs)
        self.slots = list(layers)
        for slot, layer in layers.items():
            setattr(self, slot, layer)
        if all(layer.built for layer in layers.values()):
            self.built = True

    def call(self, inputs, training=None):
        outputs = inputs
        for slot in self.slots:
            outputs = getattr(self, slot)(outputs)
        return outputs

    def build(self, input_shape):
        shape = input_shape
        for slot in self.slots:
            layer = getattr(self, slot)
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for slot in self.slots:
            shape = getattr(self, slot).compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config["layers"] = {
            slot: keras.saving.serialize_keras_object(getattr(self, slot)) for slot in self.slots
        }
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = {
            slot: keras.saving.deserialize_keras_object(layer)
            for slot, layer in config["layers"].items()
        }
        return cls(**config)
