"""`InputTap`: records the input of a layer for tapped parallel adapters."""

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.serialization import register


@register
class InputTap(AdapterWrapper):
    """Calls the base layer unchanged and lets each active tap record its input.

    Args:
        base_layer: the layer whose input is read (e.g. the gate projection).
        adapters: dict of name to `keras_adapters.layers.TapModule`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    gate = keras.layers.Dense(32)
    tap = keras_adapters.layers.InputTap(gate)
    ```
    """

    def call(self, inputs):
        for module in self.active_modules():
            module.record(inputs)
        return self.base_layer(inputs)
