"""`PromptEmbedding`: prompt tuning at the token embedding."""

import keras
from keras import ops

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.serialization import register


@register
class PromptEmbedding(AdapterWrapper):
    """Embeds virtual tokens as the active adapters' soft prompts.

    Token ids at or above the embedding's vocabulary size `V` are virtual:
    id `V + j` is embedded as row `j` of the active adapters' prompt vectors
    (`keras_adapters.layers.SoftPrompt`), concatenated in the order the
    adapters are active; ids beyond the last prompt row use the last row.
    Real ids are embedded by the wrapped layer exactly as before, and reverse
    calls (a tied output projection, `reverse=True`) pass through unchanged.
    With no adapter active it is the wrapped layer. The preprocessor of the
    task (`keras_adapters.layers.PromptPreprocessor`) or
    `keras_adapters.reserve_prompt_positions` puts the virtual ids into the
    inputs.

    Args:
        base_layer: the token embedding, a `keras.layers.Embedding` (KerasHub
            backbones use its `ReversibleEmbedding` subclass).
        adapters: dict of name to `keras_adapters.layers.SoftPrompt`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    embedding = keras.layers.Embedding(100, 16)
    embedding.build()
    prompt = keras_adapters.layers.SoftPrompt(num_virtual_tokens=2, embedding_dim=16)
    prompt.build()
    layer = keras_adapters.layers.PromptEmbedding(embedding, adapters={"p": prompt})
    vectors = layer(np.array([[5, 100, 101, 7]]))  # rows 1 and 2 are the prompt
    ```
    """

    def __init__(self, base_layer, **kwargs):
        if not isinstance(base_layer, keras.layers.Embedding):
            raise ValueError(
                "PromptEmbedding wraps a token embedding (`keras.layers.Embedding`). "
                f"Received: base_layer={base_layer!r}"
            )
        super().__init__(base_layer, **kwargs)

    @property
    def vocabulary_size(self):
        """`V`: the first virtual token id."""
        return self.base_layer.input_dim

    def num_virtual_tokens(self):
        """How many virtual tokens the active adapters embed."""
        return sum(module.num_virtual_tokens for module in self.active_modules())

    def call(self, inputs, reverse=False, **kwargs):
        if reverse:
            return self.base_layer(inputs, reverse=True, **kwargs)
        modules = self.active_modules()
        if not modules:
            return self.base_layer(inputs, **kwargs)
        ids = ops.cast(inputs, "int32")
        vocabulary = self.vocabulary_size
        outputs = self.base_layer(ops.minimum(ids, vocabulary - 1), **kwargs)
        prompts = ops.concatenate(
            [ops.cast(module.embeddings, outputs.dtype) for module in modules], axis=0
        )
        rows = ops.clip(ids - vocabulary, 0, self.num_virtual_tokens() - 1)
        virtual = ops.take(prompts, rows, axis=0)
        return ops.where(ops.expand_dims(ids >= vocabulary, -1), virtual, outputs)

    def compute_output_spec(self, inputs, reverse=False, **kwargs):
        if reverse:
            return self.base_layer.compute_output_spec(inputs, reverse=True, **kwargs)
        return self.base_layer.compute_output_spec(inputs, **kwargs)
