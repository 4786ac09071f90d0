"""`PromptPreprocessor`: a task's preprocessor that reserves the prompt positions."""

import keras
import keras_hub

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.serialization import register
from keras_adapters.methods.prompt.virtual_tokens import (
    hide_virtual_tokens,
    insert_virtual_tokens,
)


@register
class PromptPreprocessor(AdapterWrapper, keras_hub.models.Preprocessor):
    """Runs a KerasHub preprocessor, then inserts the active prompts' virtual tokens.

    Prompt tuning puts this around a task's preprocessor, so raw text goes
    to `fit`, `predict`, `generate` and serving graphs as before. After the
    wrapped preprocessor has tokenised and packed a batch, the active prompt
    adapters' `P` virtual tokens (ids from the vocabulary size up, see
    `keras_adapters.layers.PromptEmbedding`) are inserted after the start
    token (or at the start if the preprocessor adds none), with padding mask
    1; causal LM targets stay aligned, the positions that would predict a
    virtual token weighted 0. Sequences are `P` tokens longer than the
    wrapped preprocessor makes them: `sequence_length` counts the prompt, and
    a `sequence_length` (or `generate(max_length=...)`) given to this layer is
    the total, prompt included. `generate()` output loses the virtual tokens
    before detokenising. With no prompt adapter active it is the wrapped
    preprocessor. Other public attributes (`add_start_token`, `packer`...)
    read through to the wrapped preprocessor.

    Args:
        base_layer: a `keras_hub.models.Preprocessor` whose outputs hold
            `token_ids` and `padding_mask`.
        adapters: dict of name to `keras_adapters.layers.PromptPositions`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    keras_adapters.add_adapter(classifier, keras_adapters.PromptConfig(num_virtual_tokens=8))
    type(classifier.preprocessor).__name__  # "PromptPreprocessor"
    classifier.preprocessor(["a gripping film"])["token_ids"]  # [CLS], 8 virtual ids, text
    ```
    """

    def __init__(self, base_layer, **kwargs):
        if not isinstance(base_layer, keras_hub.models.Preprocessor):
            raise ValueError(
                "PromptPreprocessor wraps a `keras_hub.models.Preprocessor`. "
                f"Received: base_layer={base_layer!r}"
            )
        super().__init__(base_layer, **kwargs)
        self.built = True

    def __getattr__(self, name):
        # Only called for attributes this layer lacks: public ones of the
        # wrapped preprocessor (`add_start_token`, `packer`...) read through.
        if name.startswith("_") or "base_layer" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["base_layer"], name)

    # === The prompt ===

    def num_virtual_tokens(self):
        """How many virtual tokens the active adapters reserve."""
        return sum(module.num_virtual_tokens for module in self.active_modules())

    def start_tokens(self, generating=False):
        """How many start tokens the wrapped preprocessor puts in front (0 or more)."""
        base = self.base_layer
        if not base.built:
            base.build(None)
        start = getattr(getattr(base, "packer", None), "start_value", None)
        if start is None or (not generating and getattr(base, "add_start_token", True) is False):
            return 0
        return len(start) if isinstance(start, (list, tuple)) else 1

    def _reserve(self, outputs, generating=False):
        modules = self.active_modules()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(outputs)
        x, y, sample_weight = insert_virtual_tokens(
            x,
            first_id=modules[0].vocabulary_size,
            count=self.num_virtual_tokens(),
            start_tokens=self.start_tokens(generating),
            y=y,
            sample_weight=sample_weight,
            token_targets=isinstance(self.base_layer, keras_hub.models.CausalLMPreprocessor),
            pad_id=self._pad_id(),
        )
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _pad_id(self):
        return int(getattr(self.tokenizer, "pad_token_id", None) or 0)

    # === The Preprocessor interface ===

    @property
    def tokenizer(self):
        return self.base_layer.tokenizer

    @tokenizer.setter
    def tokenizer(self, value):
        self.base_layer.tokenizer = value

    @property
    def sequence_length(self):
        """The packed length, prompt included."""
        return self.base_layer.sequence_length + self.num_virtual_tokens()

    @sequence_length.setter
    def sequence_length(self, value):
        self.base_layer.sequence_length = value - self.num_virtual_tokens()

    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        count = self.num_virtual_tokens()
        kwargs = {} if sequence_length is None else {"sequence_length": sequence_length - count}
        outputs = self.base_layer(x, y=y, sample_weight=sample_weight, **kwargs)
        return self._reserve(outputs) if count else outputs

    def generate_preprocess(self, x, sequence_length=None):
        count = self.num_virtual_tokens()
        length = None if sequence_length is None else sequence_length - count
        outputs = self.base_layer.generate_preprocess(x, sequence_length=length)
        return self._reserve(outputs, generating=True) if count else outputs

    def generate_postprocess(self, x):
        modules = self.active_modules()
        if modules:
            x = hide_virtual_tokens(x, modules[0].vocabulary_size, self._pad_id())
        return self.base_layer.generate_postprocess(x)

    def get_config(self):
        config = super().get_config()
        for key in ("tokenizer", "audio_converter", "image_converter", "video_converter"):
            config.pop(key, None)  # they belong to the wrapped preprocessor
        return config
