"""`MovedSlot`: the placeholder left where a block slot's layer used to be."""

import keras

from keras_adapters.core.serialization import register


@register
class MovedSlot(keras.layers.Identity):
    """Stands in a block slot whose layer now lives inside a `LayerChain`.

    Args:
        slot: the semantic slot name of the layer that moved.
        **kwargs: forwarded to `keras.layers.Identity`.
    """

    def __init__(self, slot, **kwargs):
        super().__init__(**kwargs)
        self.slot = slot

    def call(self, inputs, training=None):
        return inputs

    def get_config(self):
        config = super().get_config()
        config["slot"] = self.slot
        return config
