import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.assets import SpecialTokenSafeLlama3Tokenizer

# Twelve special tokens: KerasHub's graph path garbles those after the tenth.
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"] + [f"<s{i}>" for i in range(9)]
CHARS = ["a", "b", "h", "i", "Ġ", "Ċ", "<", ">", "|", "s"] + [str(i) for i in range(10)]
MERGES = ["h i", "Ġ a"]
VOCABULARY = {t: i for i, t in enumerate(SPECIALS + CHARS + ["hi", "Ġa"])}
TEXTS = [
    "<s8>hi a<s0>\n<s7>",
    "hi<|begin_of_text|><|eot_id|>a b",
    "",
    "hi bash",
    "".join(reversed(SPECIALS)) + "hi",
    "<s1><s10>",  # "<s10>" is text: only the listed tokens are special
]


@pytest.fixture(scope="module")
def tokenizer():
    return SpecialTokenSafeLlama3Tokenizer(
        vocabulary=VOCABULARY, merges=MERGES, misc_special_tokens=set(SPECIALS[3:])
    )


def eager(tokenizer, text):
    return np.asarray(tokenizer(text)).tolist()


def test_graph_tokens_equal_eager_tokens(tokenizer):
    assert len(tokenizer.unsplittable_tokens) == 12
    expected = [eager(tokenizer, t) for t in TEXTS]
    # The specials are one id each, at their place in the text.
    assert expected[0][0] == VOCABULARY["<s8>"] and VOCABULARY["<s7>"] == expected[0][-1]
    assert expected[4][:12] == [VOCABULARY[t] for t in reversed(SPECIALS)]
    batched = tf.function(tokenizer, input_signature=[tf.TensorSpec([None], tf.string)])
    assert batched(tf.constant(TEXTS)).to_list() == expected
    one = tf.function(tokenizer)
    for text, ids in zip(TEXTS, expected):
        assert np.asarray(one(tf.constant(text))).tolist() == ids
    mapped = tf.data.Dataset.from_tensor_slices(TEXTS).map(tokenizer)
    assert [np.asarray(ids).tolist() for ids in mapped] == expected


def test_round_trips_through_keras_serialization(tokenizer):
    name = "keras_adapters>SpecialTokenSafeLlama3Tokenizer"
    assert keras.saving.get_registered_object(name) is SpecialTokenSafeLlama3Tokenizer
    assert keras.saving.serialize_keras_object(tokenizer)["registered_name"] == name


def test_inputs_of_rank_two_are_refused_in_graphs(tokenizer):
    with pytest.raises(ValueError, match="rank < 2"):
        tf.function(tokenizer)(tf.constant([["hi", "a"]]))
