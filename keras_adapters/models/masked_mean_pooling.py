"""`MaskedMeanPooling`: the mean of the non-padding token outputs."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_adapters")
class MaskedMeanPooling(keras.layers.Layer):
    """Averages `sequence [B, S, D]` over positions where `padding_mask [B, S]` is set.

    Example:
    ```python
    pooled = keras_adapters.models.MaskedMeanPooling()(sequence, padding_mask)
    ```
    """

    def call(self, sequence, padding_mask):
        weights = ops.expand_dims(ops.cast(padding_mask, sequence.dtype), -1)
        total = ops.sum(sequence * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, sequence.dtype))
        return total / count
