"""`PromptPositions`: the virtual tokens one prompt adapter reserves in the inputs."""

import keras

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class PromptPositions(keras.layers.Layer):
    """How many virtual tokens a prompt adapter needs, and where their ids start.

    The module a prompt adapter puts into the task's preprocessor
    (`keras_adapters.layers.PromptPreprocessor`); it holds no weights (the
    prompt vectors are in the `keras_adapters.layers.SoftPrompt` at the
    token embedding).

    Args:
        num_virtual_tokens: `P`, > 0.
        vocabulary_size: rows of the token embedding; virtual ids start there.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    positions = keras_adapters.layers.PromptPositions(num_virtual_tokens=4, vocabulary_size=100)
    ```
    """

    def __init__(self, num_virtual_tokens, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.num_virtual_tokens = validation.check_positive_int(
            "num_virtual_tokens", num_virtual_tokens
        )
        self.vocabulary_size = validation.check_positive_int("vocabulary_size", vocabulary_size)
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_virtual_tokens": self.num_virtual_tokens,
                "vocabulary_size": self.vocabulary_size,
            }
        )
        return config
