"""`StartAwareLlama3CausalLMPreprocessor`: `add_start_token` in `generate`."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="keras_adapters")
class StartAwareLlama3CausalLMPreprocessor(keras_hub.models.Llama3CausalLMPreprocessor):
    r"""A Llama 3 causal LM preprocessor that honours `add_start_token=False` in `generate`.

    A `keras_hub.models.Llama3CausalLMPreprocessor` that applies
    `add_start_token=False` when generating, not only when training.

    KerasHub 0.32's `generate_preprocess` packs prompts with the packer's
    default and always prepends the start token. Models whose tokenizer adds
    no start token (SmolLM2: `tokenizer.ggml.add_bos_token` is false, and
    the start token `<|im_start|>` opens every chat turn) then see it
    twice at the start of a chat prompt, and SmolLM2's greedy answer to
    "What is the capital of France?" turns into nonsense. This subclass
    builds the packer without a start value when `add_start_token=False`,
    so training and generation both follow the flag. It takes the same
    arguments and is registered for serialization.

    Args:
        tokenizer: `keras_hub.models.Llama3Tokenizer`.
        sequence_length: int. The length of packed inputs.
        add_start_token: bool. Whether to prepend the start token.
        add_end_token: bool. Whether to append the end token (training).
        **kwargs: passed to `keras_hub.models.Llama3CausalLMPreprocessor`.

    Example:
    ```python
    causal_lm = keras_adapters.assets.load_causal_lm_preset()
    preprocessor = causal_lm.preprocessor
    type(preprocessor).__name__  # "StartAwareLlama3CausalLMPreprocessor"
    preprocessor.generate_preprocess("<|im_start|>user\\nHi")["token_ids"][0]
    # starts with one id 1 (<|im_start|>), not two
    ```
    """

    def build(self, input_shape):
        super().build(input_shape)
        if not self.add_start_token:
            # `__call__` passes `add_start_value=False` itself; generation
            # relies on the packer's own start value.
            self.packer.start_value = None
