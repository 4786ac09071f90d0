"""`SoftPrompt`: the learned input embeddings of one prompt-tuning adapter."""

import keras

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class SoftPrompt(keras.layers.Layer):
    """Holds `P` prompt vectors in the token embedding space (`embeddings`, `[P, dim]`).

    The wrapper that owns it (`keras_adapters.layers.PromptEmbedding`) puts
    them where the token embedding would put the embeddings of the virtual
    tokens; `keras_adapters.PromptConfig` initialises them from token
    embeddings.

    Args:
        num_virtual_tokens: `P`, > 0.
        embedding_dim: width of the token embedding.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    prompt = keras_adapters.layers.SoftPrompt(num_virtual_tokens=4, embedding_dim=16)
    prompt.build()
    prompt.embeddings.shape  # (4, 16)
    ```
    """

    def __init__(self, num_virtual_tokens, embedding_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_virtual_tokens = validation.check_positive_int(
            "num_virtual_tokens", num_virtual_tokens
        )
        self.embedding_dim = validation.check_positive_int("embedding_dim", embedding_dim)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.num_virtual_tokens, self.embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="embeddings",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_virtual_tokens": self.num_virtual_tokens, "embedding_dim": self.embedding_dim}
        )
        return config
