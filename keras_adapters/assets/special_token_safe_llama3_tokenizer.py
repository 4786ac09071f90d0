"""`SpecialTokenSafeLlama3Tokenizer`: special tokens in text, also in TensorFlow graphs."""

import re

import keras
import keras_hub
import tensorflow as tf
import tensorflow_text

# KerasHub 0.32's graph tokenizer swaps each special token for "Ĵ" + letters
# ("ĴA", "ĴB", ..., "ĴBA" for the 11th) and swaps them back by regex, so
# the 2nd token's stand-in "ĴB" also rewrites the 11th to 20th ones'.
_SAFE_SPECIAL_TOKENS = 10


@keras.saving.register_keras_serializable(package="keras_adapters")
class SpecialTokenSafeLlama3Tokenizer(keras_hub.models.Llama3Tokenizer):
    r"""A Llama 3 tokenizer whose TensorFlow path reads special tokens in text correctly.

    A `keras_hub.models.Llama3Tokenizer` that gives the same ids in a
    `tf.function`, a `tf.data` pipeline and a SavedModel as it gives eagerly.
    KerasHub 0.32 protects special tokens written in text (`<|im_start|>`)
    from byte-pair splitting in its graph path with stand-in strings that
    collide once a tokenizer has more than ten of them: SmolLM2 has 17, so
    `<|im_start|>` could come out as the pieces of `<jupyter_output>D`,
    depending on the (set) order the tokens were listed in. Eager
    tokenization was right, so training data (`tf.data`) and exported
    models disagreed with `generate()`. This subclass splits the text on the
    special tokens itself in graphs, looks those up by id and tokenizes
    only the text between them. Eager calls are KerasHub's. Registered for
    serialization; takes the arguments of `keras_hub.models.Llama3Tokenizer`.

    Args:
        vocabulary: dict of token to id, or the path of a vocabulary file.
        merges: list of merge rules, or the path of a merges file.
        **kwargs: passed to `keras_hub.models.Llama3Tokenizer`.

    Example:
    ```python
    causal_lm = keras_adapters.assets.load_causal_lm_preset()
    tokenizer = causal_lm.preprocessor.tokenizer
    text = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    eager = tokenizer(text)
    traced = tf.function(tokenizer)(tf.constant(text))  # the same ids
    ```
    """

    def tokenize(self, inputs):
        tokens = self.unsplittable_tokens or []
        graph = tf.inside_function() or self._use_tf_workflow()
        if not graph or len(tokens) <= _SAFE_SPECIAL_TOKENS or self.sequence_length:
            return super().tokenize(inputs)
        inputs = tf.convert_to_tensor(inputs)
        if inputs.shape.rank not in (0, 1):
            return super().tokenize(inputs)  # KerasHub's error names the valid ranks
        scalar = inputs.shape.rank == 0
        texts = tf.reshape(inputs, [1]) if scalar else inputs
        # Longest first: a special token that starts another one never cuts it.
        specials = sorted(tokens, key=len, reverse=True)
        pattern = "|".join(re.escape(token) for token in specials)
        pieces = tensorflow_text.regex_split(texts, pattern, pattern)
        flat = pieces.flat_values
        matches = tf.equal(flat[:, None], tf.constant(specials)[None, :])
        special = tf.reduce_any(matches, axis=1)
        ids = tf.constant([self.token_to_id(token) for token in specials], "int32")
        special_ids = tf.gather(ids, tf.argmax(tf.cast(matches, "int32"), axis=1))
        text_ids = super().tokenize(tf.where(special, tf.constant(""), flat))
        if not isinstance(text_ids, tf.RaggedTensor):  # every piece the same length
            text_ids = tf.RaggedTensor.from_tensor(text_ids)
        per_piece = tf.concat(
            [
                tf.cast(text_ids, "int32"),
                tf.RaggedTensor.from_row_lengths(
                    tf.boolean_mask(special_ids, special), tf.cast(special, "int64")
                ),
            ],
            axis=1,
        )
        ids = tf.RaggedTensor.from_row_splits(per_piece, pieces.row_splits).merge_dims(1, 2)
        return ids[0] if scalar else ids
