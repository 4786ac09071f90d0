"""`PromptResponsePreprocessor`: causal LM training on prompt/response pairs."""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_adapters")
class PromptResponsePreprocessor(keras_hub.models.CausalLMPreprocessor):
    """A causal LM preprocessor that can put the loss on the response only.

    Called with a dict `{"prompts": ..., "responses": ...}` of strings, it
    tokenizes each prompt and response separately, joins them (with the start
    and end tokens the flags ask for), and returns `(x, y, sample_weight)`
    like `keras_hub.models.CausalLMPreprocessor`, except that with
    `response_only=True` the sample weights are 1 only where the next token
    is a response token (or the end token after it): the model is trained to
    produce the response, not to reproduce the prompt. Prompts and responses
    are tokenized apart, so the boundary is exact; end each prompt where the
    response starts (e.g. after the chat template's assistant header).
    Sequences longer than `sequence_length` are cut at the end. Called with
    plain strings, it is the usual causal LM preprocessing (loss on every
    real token). `generate_preprocess` honours `add_start_token`, so prompts
    that already open with the start token (chat templates) do not get it
    twice.

    The prompt/response path runs TensorFlow ops (inside `tf.data` as
    KerasHub's own preprocessing does, or in a `tf.function` when called
    eagerly), so it needs the TensorFlow backend's text stack.

    Args:
        tokenizer: a KerasHub tokenizer.
        sequence_length: length of the packed inputs.
        add_start_token: prepend the tokenizer's start token.
        add_end_token: append the tokenizer's end token.
        response_only: with prompt/response input, weight the loss on the
            response tokens only.
        **kwargs: forwarded to `keras_hub.models.CausalLMPreprocessor`.

    Example:
    ```python
    causal_lm.preprocessor = keras_adapters.models.PromptResponsePreprocessor.from_preprocessor(
        causal_lm.preprocessor
    )
    causal_lm.fit({"prompts": ["2 + 2 ="], "responses": [" 4"]}, batch_size=1)
    ```
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=1024,
        add_start_token=True,
        add_end_token=True,
        response_only=True,
        **kwargs,
    ):
        super().__init__(
            tokenizer=tokenizer,
            sequence_length=sequence_length,
            add_start_token=add_start_token,
            add_end_token=add_end_token,
            **kwargs,
        )
        if not isinstance(response_only, bool):
            raise ValueError(
                f"`response_only` must be a bool. Received: response_only={response_only!r}"
            )
        self.response_only = response_only
        self.weight_packer = None
        self._pack_pairs_eagerly = None

    @classmethod
    def from_preprocessor(cls, preprocessor, response_only=True):
        """Builds one with the tokenizer, length and flags of a KerasHub causal LM preprocessor.

        Args:
            preprocessor: a `keras_hub.models.CausalLMPreprocessor`, e.g.
                `causal_lm.preprocessor`.
            response_only: see the class.

        Returns:
            A `keras_adapters.models.PromptResponsePreprocessor`.
        """
        if not isinstance(preprocessor, keras_hub.models.CausalLMPreprocessor):
            raise ValueError(
                "`preprocessor` must be a keras_hub.models.CausalLMPreprocessor. "
                f"Received: preprocessor={type(preprocessor).__name__}"
            )
        return cls(
            tokenizer=preprocessor.tokenizer,
            sequence_length=preprocessor.sequence_length,
            add_start_token=preprocessor.add_start_token,
            add_end_token=preprocessor.add_end_token,
            response_only=response_only,
        )

    def build(self, input_shape):
        super().build(input_shape)
        if not self.add_start_token:
            self.packer.start_value = None  # generation follows the flag too
        self.weight_packer = keras_hub.layers.StartEndPacker(
            start_value=0 if self.add_start_token else None,
            end_value=1 if self.add_end_token else None,
            pad_value=0,
            sequence_length=self.sequence_length,
        )

    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        if not (isinstance(x, dict) and "prompts" in x):
            return super().call(
                x, y=y, sample_weight=sample_weight, sequence_length=sequence_length
            )
        if set(x) != {"prompts", "responses"} or y is not None or sample_weight is not None:
            raise ValueError(
                "Prompt/response input must be exactly {'prompts': ..., 'responses': ...} with no "
                f"`y` or `sample_weight` (labels come from the responses). Received: keys={sorted(x)}"
            )
        if not self.built:
            self.build(None)
        length = int(sequence_length or self.sequence_length)
        if tf.inside_function():
            return self._pack_pairs(x["prompts"], x["responses"], length)
        if self._pack_pairs_eagerly is None:
            self._pack_pairs_eagerly = tf.function(self._pack_pairs)
        return self._pack_pairs_eagerly(
            tf.convert_to_tensor(x["prompts"], tf.string),
            tf.convert_to_tensor(x["responses"], tf.string),
            length,
        )

    def _pack_pairs(self, prompts, responses, sequence_length):
        prompt_ids = self.tokenizer(prompts)
        response_ids = self.tokenizer(responses)
        ids = tf.concat([prompt_ids, response_ids], axis=-1)
        is_response = tf.concat([tf.zeros_like(prompt_ids), tf.ones_like(response_ids)], axis=-1)
        flags = {"add_start_value": self.add_start_token, "add_end_value": self.add_end_token}
        token_ids, padding_mask = self.packer(ids, sequence_length=sequence_length + 1, **flags)
        response_mask = self.weight_packer(
            is_response, sequence_length=sequence_length + 1, **flags
        )
        x = {"token_ids": token_ids[..., :-1], "padding_mask": padding_mask[..., :-1]}
        weights = response_mask if self.response_only else tf.cast(padding_mask, "int32")
        return keras.utils.pack_x_y_sample_weight(
            x, token_ids[..., 1:], tf.cast(weights[..., 1:], "float32")
        )

    def get_config(self):
        return {**super().get_config(), "response_only": self.response_only}
