"""`TokenClassifierPreprocessor`: words to word pieces, word labels on each word's first piece."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

# How raw text is cut into words for tagging (RE2 syntax, run in the graph by
# TensorFlow Text): runs of white space (Unicode spaces, control and format
# characters too) separate words and are dropped; a word is an abbreviation
# with dots ("U.S."), letters and digits possibly joined by - . , / : & inside
# ("1996-08-22", "3,500", "Arab-Israeli", "AT&T"), a possessive "'s", or any
# other single character (punctuation). This is close to the tokenisation of
# the CoNLL-2003 text, so served words look like the words the model was
# trained on.
SPACE_PATTERN = r"[\s\p{Z}\p{Cc}\p{Cf}]+"
WORD_PATTERN = (
    r"(?:\pL\.){2,}"
    r"|[\pL\pN\pM]+(?:[-.,/:&][\pL\pN\pM]+)*"
    r"|['’][sS]\b"
    r"|[^\s\p{Z}\p{Cc}\p{Cf}]"
)


@keras.saving.register_keras_serializable(package="keras_adapters")
class TokenClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Turns sentences of words into packed word pieces, with labels on each word's first piece.

    Each word is tokenized on its own (so a word never shares a piece with
    its neighbours), the pieces of a sentence are concatenated, cut to
    `sequence_length - 2` and packed between the tokenizer's start and end
    tokens (`[CLS] ... [SEP]` for BERT), then padded.

    Labels are given per word and come out per piece: the first piece of
    each word carries the word's label with sample weight 1; its other
    pieces, the start and end tokens, padding, words cut off by
    `sequence_length` and words that tokenize to no piece carry label 0
    with weight 0, so the loss and the metrics ignore them.

    Inputs (`x`) are either

    - pre-split words: a `tf.RaggedTensor` of strings `[batch, (words)]`, or
      a list of lists of str; or
    - raw texts: a 1-D string tensor or a list of str, split into words by
      `split_words` (white space and punctuation, see `WORD_PATTERN`).

    Word-level labels (`y`, optional) are int tag ids shaped like the words:
    a ragged int tensor or a list of lists (or arrays). `sample_weight`,
    optional, is one weight per sentence and multiplies the piece weights.

    Works with any KerasHub tokenizer that maps a batch of strings to ragged
    ids and has start, end and pad tokens: WordPiece (BERT, MiniLM,
    DistilBERT, ELECTRA), SentencePiece (ALBERT, DeBERTa-v3, XLM-R) and
    byte-pair (RoBERTa; a space is put before each word, as the tokenizer
    expects inside a sentence). Preprocessing runs in TensorFlow (TensorFlow
    Text ops), as KerasHub's preprocessing does, and traces into a
    SavedModel.

    Args:
        tokenizer: a `keras_hub.tokenizers.Tokenizer`, e.g.
            `keras_hub.models.BertTokenizer`.
        sequence_length: int, at least 3. Pieces per sequence, start and end
            tokens included. Defaults to `128`.
        **kwargs: passed to `keras_hub.models.Preprocessor`.

    Call returns:
        `x`, a dict of `token_ids` and `segment_ids` (int32
        `[batch, sequence_length]`) and `padding_mask` (bool); with `y`,
        the tuple `(x, labels, sample_weight)` with labels int32 and
        weights float32, both `[batch, sequence_length]`.

    Example:
    ```python
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paris", "is", "nice", "##r"],
        lowercase=True,
    )
    preprocessor = keras_adapters.models.TokenClassifierPreprocessor(tokenizer, sequence_length=8)
    x, labels, weights = preprocessor([["Paris", "is", "nicer"]], [[1, 0, 0]])
    x["token_ids"]  # [[2, 5, 6, 7, 8, 3, 0, 0]]
    labels  # [[0, 1, 0, 0, 0, 0, 0, 0]]
    weights  # [[0, 1, 1, 1, 0, 0, 0, 0]]
    ```
    """

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(sequence_length, bool)
            or not isinstance(sequence_length, (int, np.integer))
            or sequence_length < 3
        ):
            raise ValueError(
                "`sequence_length` must be an integer of at least 3 (start token, a word "
                f"piece, end token). Received: sequence_length={sequence_length!r}"
            )
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        # Eager calls run the TensorFlow path through these (KerasHub
        # tokenizers take a pure-Python path when called eagerly).
        object.__setattr__(self, "_graph_functions", {})
        self.built = True  # no weights; the tokenizer builds itself

    # === Words ===

    def split_words(self, texts):
        """Cuts raw texts into words, with their byte offsets.

        Args:
            texts: a 1-D string tensor or a list of str.

        Returns:
            A tuple `(words, starts, ends)` of ragged tensors
            `[batch, (words)]`: the words (`tf.string`) and the byte offsets
            in the UTF-8 text where each starts and ends (int64, end
            exclusive).
        """
        return self._in_graph("split_words", _split_words, _strings(texts))

    def tokenize_words(self, words):
        """Tokenizes and packs sentences of words; says where each word's first piece is.

        Args:
            words: a ragged string tensor `[batch, (words)]` or a list of
                lists of str.

        Returns:
            A tuple `(x, first_piece)`: `x` as `call` returns it, and an
            int32 ragged tensor shaped like `words` holding the position in
            `token_ids` of each word's first piece, or -1 for a word with
            no piece in the sequence (cut off by `sequence_length`, or
            nothing left after tokenization).
        """
        return self._in_graph("tokenize_words", self._tokenize_words, _words(words))

    def call(self, x, y=None, sample_weight=None):
        if tf.executing_eagerly():
            return self._in_graph("call", self._call, *_call_inputs(x, y, sample_weight))
        return self._call(x, y, sample_weight)

    def _call(self, x, y=None, sample_weight=None):
        if not isinstance(x, tf.RaggedTensor):
            x = tf.convert_to_tensor(x)
            if x.dtype != tf.string or x.shape.rank not in (1, 2):
                raise ValueError(
                    "`x` must be raw texts (a 1-D string tensor or a list of str) or "
                    "pre-split words (a ragged string tensor or a list of lists of str). "
                    f"Received: x with dtype={x.dtype.name} and shape={x.shape}"
                )
            x = _split_words(x)[0] if x.shape.rank == 1 else tf.RaggedTensor.from_tensor(x)
        features, first_piece = self._tokenize_words(x)
        if y is None:
            return keras.utils.pack_x_y_sample_weight(features, None, sample_weight)
        labels, weights = self._piece_labels(first_piece, y, sample_weight)
        return features, labels, weights

    # === Alignment ===

    def _tokenize_words(self, words):
        tokenizer = self.tokenizer
        special = {
            name: getattr(tokenizer, f"{name}_token_id", None) for name in ("start", "end", "pad")
        }
        missing = [name for name, value in special.items() if value is None]
        if missing:
            raise ValueError(
                f"The tokenizer {type(tokenizer).__name__} has no {missing} token id(s); "
                "packing needs start, end and pad tokens. Received: "
                f"tokenizer={tokenizer!r}"
            )
        flat = words.flat_values
        if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
            flat = " " + flat  # byte-level BPE marks words that follow a space
        pieces = tokenizer(flat)
        if not isinstance(pieces, tf.RaggedTensor):
            raise ValueError(
                f"The tokenizer must return ragged ids for a batch of words; "
                f"{type(tokenizer).__name__} returned a dense tensor. Create it with "
                f"`sequence_length=None`. Received: tokenizer.sequence_length="
                f"{getattr(tokenizer, 'sequence_length', None)!r}"
            )
        pieces = tf.cast(pieces, "int32")
        counts = tf.cast(pieces.row_lengths(), "int32")
        row_splits = tf.cast(words.row_splits, "int32")
        row_ids = tf.cast(words.value_rowids(), "int32")
        # Where each word's pieces start among its sentence's pieces.
        ends = tf.cumsum(counts)
        sentence_starts = tf.gather(tf.concat([[0], ends], axis=0), row_splits[:-1])
        position = ends - counts - tf.gather(sentence_starts, row_ids) + 1  # after [CLS]
        length = self.sequence_length
        kept = tf.logical_and(counts > 0, position <= length - 2)
        first_piece = tf.RaggedTensor.from_row_splits(
            tf.where(kept, position, -tf.ones_like(position)), words.row_splits
        )

        sentences = tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)
        sentences = sentences[:, : length - 2]
        rows = sentences.nrows(out_type="int32")
        packed = tf.concat(
            [
                tf.RaggedTensor.from_tensor(tf.fill([rows, 1], int(special["start"]))),
                sentences,
                tf.RaggedTensor.from_tensor(tf.fill([rows, 1], int(special["end"]))),
            ],
            axis=1,
        )
        token_ids = packed.to_tensor(default_value=int(special["pad"]), shape=[None, length])
        padding_mask = tf.sequence_mask(packed.row_lengths(), length)
        features = {
            "token_ids": token_ids,
            "padding_mask": padding_mask,
            "segment_ids": tf.zeros_like(token_ids),
        }
        return features, first_piece

    def _piece_labels(self, first_piece, y, sample_weight):
        if not isinstance(y, tf.RaggedTensor):
            y = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(y))
        y = tf.cast(y, "int32")
        tf.debugging.assert_equal(
            tf.cast(y.row_splits, "int64"),
            tf.cast(first_piece.row_splits, "int64"),
            message="`y` must hold one label per word of each sentence.",
        )
        kept = first_piece.flat_values >= 0
        indices = tf.stack(
            [
                tf.boolean_mask(tf.cast(first_piece.value_rowids(), "int32"), kept),
                tf.boolean_mask(first_piece.flat_values, kept),
            ],
            axis=1,
        )
        shape = tf.stack([first_piece.nrows(out_type="int32"), self.sequence_length])
        labels = tf.scatter_nd(indices, tf.boolean_mask(y.flat_values, kept), shape)
        weights = tf.scatter_nd(indices, tf.ones(tf.shape(indices)[:1], "float32"), shape)
        if sample_weight is not None:
            sample_weight = tf.cast(tf.convert_to_tensor(sample_weight), "float32")
            weights = weights * tf.reshape(sample_weight, [-1, 1])
        return labels, weights

    def _in_graph(self, name, function, *args):
        if not tf.executing_eagerly():
            return function(*args)
        if name not in self._graph_functions:
            self._graph_functions[name] = tf.function(function, reduce_retracing=True)
        return self._graph_functions[name](*args)

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length})
        return config


def _split_words(texts):
    return tf_text.regex_split_with_offsets(texts, SPACE_PATTERN + "|" + WORD_PATTERN, WORD_PATTERN)


def _strings(texts):
    if isinstance(texts, (tf.Tensor, tf.RaggedTensor)) and not tf.executing_eagerly():
        return texts
    if isinstance(texts, str) or (
        isinstance(texts, (list, tuple)) and not all(isinstance(t, str) for t in texts)
    ):
        raise ValueError(f"`texts` must be a list of str. Received: texts={texts!r:.80}")
    return tf.convert_to_tensor(texts, tf.string)


def _words(words):
    if isinstance(words, tf.RaggedTensor):
        return words
    if isinstance(words, tf.Tensor):
        return tf.RaggedTensor.from_tensor(words)
    if isinstance(words, str) or not isinstance(words, (list, tuple)):
        raise ValueError(
            f"`words` must be a list of sentences, each a list of str. Received: {words!r:.80}"
        )
    flat, lengths = [], []
    for sentence in words:
        if isinstance(sentence, str) or not all(isinstance(w, str) for w in sentence):
            raise ValueError(
                "`words` must be a list of sentences, each a list of str. "
                f"Received: a sentence {sentence!r:.80}"
            )
        flat.extend(sentence)
        lengths.append(len(sentence))
    return tf.RaggedTensor.from_row_lengths(
        tf.constant(flat, tf.string, shape=[len(flat)]), tf.constant(lengths, tf.int64)
    )


def _call_inputs(x, y, sample_weight):
    """Eager inputs as tensors, so one traced function serves every batch."""
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], str):
        x = _words(x)
    elif isinstance(x, (list, tuple)) or isinstance(x, np.ndarray):
        x = _strings(list(x))
    if y is not None and not isinstance(y, (tf.Tensor, tf.RaggedTensor)):
        rows = [np.asarray(row, dtype=np.int32).reshape(-1) for row in y]
        y = tf.RaggedTensor.from_row_lengths(
            tf.constant(np.concatenate(rows) if rows else np.zeros([0], np.int32)),
            tf.constant([len(row) for row in rows], tf.int64),
        )
    if sample_weight is not None:
        sample_weight = tf.convert_to_tensor(sample_weight, tf.float32)
    return x, y, sample_weight
