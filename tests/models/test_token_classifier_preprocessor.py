"""`TokenClassifierPreprocessor`: word pieces and label alignment, checked against hand-computed cases."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.models import TokenClassifierPreprocessor
from tests.support.tiny_taggers import VOCAB, tokenizer

ID = {token: i for i, token in enumerate(VOCAB)}
CLS, SEP, PAD = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"]
B_PER, I_PER, B_LOC = 7, 8, 1


def _np(value):
    return keras.ops.convert_to_numpy(value)


def _run(words, tags, sequence_length, sample_weight=None):
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=sequence_length)
    x, labels, weights = preprocessor(words, tags, sample_weight)
    return {k: _np(v) for k, v in x.items()}, _np(labels), _np(weights)


def test_first_piece_of_each_word_carries_its_label():
    # "Blackburn" is two pieces, black ##burn: only the first carries I-PER.
    x, labels, weights = _run(
        [["Peter", "Blackburn", "lives", "in", "Paris"]], [[B_PER, I_PER, 0, 0, B_LOC]], 10
    )
    peter, black, burn = ID["peter"], ID["black"], ID["##burn"]
    lives, in_, paris = ID["lives"], ID["in"], ID["paris"]
    np.testing.assert_array_equal(
        x["token_ids"], [[CLS, peter, black, burn, lives, in_, paris, SEP, PAD, PAD]]
    )
    np.testing.assert_array_equal(x["padding_mask"], [[1] * 8 + [0] * 2])
    np.testing.assert_array_equal(x["segment_ids"], np.zeros((1, 10)))
    np.testing.assert_array_equal(labels, [[0, B_PER, I_PER, 0, 0, 0, B_LOC, 0, 0, 0]])
    np.testing.assert_array_equal(weights, [[0, 1, 1, 0, 1, 1, 1, 0, 0, 0]])
    assert x["token_ids"].dtype == np.int32 and labels.dtype == np.int32
    assert weights.dtype == np.float32


def test_punctuation_inside_a_word_gives_pieces_of_one_word():
    # The tokenizer splits "U.S." into u . s . ; the word's label goes on "u" only.
    x, labels, weights = _run([["the", "U.S.", "said"]], [[0, B_LOC, 0]], 8)
    u, dot, s = ID["u"], ID["."], ID["s"]
    np.testing.assert_array_equal(
        x["token_ids"], [[CLS, ID["the"], u, dot, s, dot, ID["said"], SEP]]
    )
    np.testing.assert_array_equal(labels, [[0, 0, B_LOC, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(weights, [[0, 1, 1, 0, 0, 0, 1, 0]])


@pytest.mark.parametrize(
    "sequence_length, token_ids, labels, weights",
    [
        # Room for 4 pieces: "lives" is the last word in, "in" and "Paris" are cut.
        (6, [CLS, 15, 16, 17, 20, SEP], [0, B_PER, I_PER, 0, 0, 0], [0, 1, 1, 0, 1, 0]),
        # Room for 2 pieces: Blackburn keeps its first piece, so it keeps its label.
        (4, [CLS, 15, 16, SEP], [0, B_PER, I_PER, 0], [0, 1, 1, 0]),
        (3, [CLS, 15, SEP], [0, B_PER, 0], [0, 1, 0]),
    ],
)
def test_words_cut_off_by_the_sequence_length_are_masked(
    sequence_length, token_ids, labels, weights
):
    words = [["Peter", "Blackburn", "lives", "in", "Paris"]]
    x, got_labels, got_weights = _run(words, [[B_PER, I_PER, 0, 0, B_LOC]], sequence_length)
    np.testing.assert_array_equal(x["token_ids"], [token_ids])
    np.testing.assert_array_equal(got_labels, [labels])
    np.testing.assert_array_equal(got_weights, [weights])


def test_first_piece_positions_and_words_without_pieces():
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=8)
    # A zero-width space tokenizes to nothing; an unknown word is one [UNK] piece.
    x, first = preprocessor.tokenize_words([["Paris", "\u200b", "Xyz", "said"], [], ["."]])
    assert first.to_list() == [[1, -1, 2, 3], [], [1]]
    np.testing.assert_array_equal(
        _np(x["token_ids"]),
        [
            [CLS, ID["paris"], ID["[UNK]"], ID["said"], SEP, PAD, PAD, PAD],
            [CLS, SEP, PAD, PAD, PAD, PAD, PAD, PAD],
            [CLS, ID["."], SEP, PAD, PAD, PAD, PAD, PAD],
        ],
    )
    _, labels, weights = preprocessor([["Paris", "\u200b", "Xyz"]], [[B_LOC, B_PER, 0]])
    np.testing.assert_array_equal(_np(weights), [[0, 1, 1, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(_np(labels), [[0, B_LOC, 0, 0, 0, 0, 0, 0]])


def test_batches_mix_lengths_and_sentence_weights_multiply():
    _, labels, weights = _run(
        [["Paris"], ["Peter", "Blackburn"]], [[B_LOC], [B_PER, I_PER]], 6, [0.5, 2.0]
    )
    np.testing.assert_array_equal(labels, [[0, B_LOC, 0, 0, 0, 0], [0, B_PER, I_PER, 0, 0, 0]])
    np.testing.assert_array_equal(weights, [[0, 0.5, 0, 0, 0, 0], [0, 2, 2, 0, 0, 0]])


def test_inputs_as_ragged_tensors_and_in_a_dataset():
    words = tf.ragged.constant([["Peter", "Blackburn"], ["Paris"]])
    tags = tf.ragged.constant([[B_PER, I_PER], [B_LOC]])
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=6)
    eager = preprocessor(words, tags)
    dataset = tf.data.Dataset.from_tensor_slices((words, tags)).batch(2).map(preprocessor)
    graph = next(iter(dataset))
    for a, b in zip(tf.nest.flatten(eager), tf.nest.flatten(graph)):
        np.testing.assert_array_equal(_np(a), _np(b))


def test_labels_must_match_the_words():
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one label per word"):
        preprocessor([["Peter", "Blackburn"]], [[B_PER]])


def test_raw_texts_are_split_into_words_with_byte_offsets():
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=16)
    text = "Zürich's U.S. office (Reuters) said -- 3,500 on 1996-08-22."
    words, starts, ends = preprocessor.split_words([text, "", "  New\u00a0York\t"])
    words = [[w.decode() for w in row] for row in words.to_list()]
    assert words[0] == [
        "Zürich", "'s", "U.S.", "office", "(", "Reuters", ")", "said", "-", "-", "3,500", "on",
        "1996-08-22", ".",
    ]  # fmt: skip
    assert words[1:] == [[], ["New", "York"]]
    encoded = text.encode()
    assert [encoded[a:b].decode() for a, b in zip(starts[0].numpy(), ends[0].numpy())] == words[0]
    # Raw text preprocesses as its words do.
    raw = preprocessor([text])
    split = preprocessor([words[0]])
    np.testing.assert_array_equal(_np(raw["token_ids"]), _np(split["token_ids"]))


def test_config_round_trip_and_bad_arguments():
    preprocessor = TokenClassifierPreprocessor(tokenizer(), sequence_length=7)
    # The vocabulary is an asset, not config (KerasHub saves it beside the
    # config), so the restored preprocessor gets the tokenizer back as an object.
    config = {**preprocessor.get_config(), "tokenizer": preprocessor.tokenizer}
    restored = TokenClassifierPreprocessor.from_config(config)
    assert restored.sequence_length == 7
    words = [["Peter", "Blackburn", "said"]]
    np.testing.assert_array_equal(
        _np(restored(words)["token_ids"]), _np(preprocessor(words)["token_ids"])
    )
    with pytest.raises(ValueError, match="Received: sequence_length=2"):
        TokenClassifierPreprocessor(tokenizer(), sequence_length=2)
    with pytest.raises(ValueError, match="list of sentences"):
        preprocessor.tokenize_words("Paris")
    with pytest.raises(ValueError, match="dtype=int32"):
        preprocessor(tf.constant([1, 2]))
