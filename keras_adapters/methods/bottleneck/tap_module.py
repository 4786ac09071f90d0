"""`TapModule`: hands the input a parallel adapter reads to that adapter."""

import keras

from keras_adapters.core.serialization import register


@register
class TapModule(keras.layers.Layer):
    """The weightless half of a tapped parallel adapter.

    It sits in a `keras_adapters.layers.InputTap` on the layer whose input
    the adapter reads (a gated feed-forward's gate projection) and records
    that input for its `target`, the `keras_adapters.layers.BottleneckAdapter`
    that a `keras_adapters.layers.TappedParallelSite` applies after the
    feed-forward's last layer. Both run inside one block call, tap first; the
    recorded tensor is consumed once.

    Args:
        target: the adapter module that reads the recorded input.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def __init__(self, target=None, **kwargs):
        super().__init__(**kwargs)
        # Not tracked: the target's weights belong to the site that applies it.
        object.__setattr__(self, "_target", target)
        self.built = True

    def record(self, inputs):
        """Stores `inputs` for the target adapter."""
        object.__setattr__(self._target, "tapped_input", inputs)
