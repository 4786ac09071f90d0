"""The prompt-tuning layers against NumPy: embedding lookup, reserved positions, targets."""

import keras
import keras_hub
import numpy as np
import pytest

from keras_adapters.layers import PromptEmbedding, PromptPositions, PromptPreprocessor, SoftPrompt
from keras_adapters.methods.prompt.virtual_tokens import hide_virtual_tokens, insert_virtual_tokens
from tests.export.test_export_causal_lm import VOCABULARY as GPT2_VOCABULARY
from tests.export.text_classifiers import VOCABULARY as BERT_VOCABULARY

V, D = 10, 4


def _prompt(count, seed):
    module = SoftPrompt(count, D)
    module.build()
    module.embeddings.assign(np.random.default_rng(seed).normal(size=(count, D)))
    return module


def _embedding():
    layer = keras.layers.ReversibleEmbedding(V, D)
    layer.build()
    layer.embeddings.assign(np.random.default_rng(0).normal(size=(V, D)))
    return layer


def test_virtual_ids_are_embedded_as_the_active_prompts_in_order():
    base = _embedding()
    a, b = _prompt(2, 1), _prompt(3, 2)
    layer = PromptEmbedding(base, adapters={"a": a, "b": b}, active_adapters=["b", "a"])
    ids = np.array([[3, V, V + 1, V + 2, V + 3, V + 4, 7, 0]])
    table = np.concatenate([base.embeddings.numpy(), b.embeddings.numpy(), a.embeddings.numpy()])
    np.testing.assert_allclose(layer(ids), table[ids], atol=1e-7)
    layer.active_adapters = ["a"]
    clipped = np.minimum(ids, V + 1)  # ids past the last prompt row use the last row
    table = np.concatenate([base.embeddings.numpy(), a.embeddings.numpy()])
    np.testing.assert_allclose(layer(ids), table[clipped], atol=1e-7)


def test_real_ids_reverse_calls_and_no_active_adapter_are_the_base_layer():
    base = _embedding()
    layer = PromptEmbedding(base, adapters={"a": _prompt(2, 1)})
    ids = np.array([[1, 2, 9, 0]])
    np.testing.assert_array_equal(layer(ids), base(ids))
    hidden = np.random.default_rng(3).normal(size=(1, 4, D)).astype("float32")
    np.testing.assert_array_equal(layer(hidden, reverse=True), base(hidden, reverse=True))
    layer.active_adapters = []
    np.testing.assert_array_equal(layer(ids), base(ids))


def test_embedding_wrapper_and_modules_serialize():
    base = _embedding()
    layer = PromptEmbedding(base, adapters={"a": _prompt(2, 1)}, location="token_embedding")
    again = PromptEmbedding.from_config(layer.get_config())
    assert again.location == "token_embedding" and again.adapter_names == ("a",)
    assert again.get_adapter("a").get_config()["num_virtual_tokens"] == 2
    positions = PromptPositions(3, vocabulary_size=V)
    assert PromptPositions.from_config(positions.get_config()).vocabulary_size == V


def test_embedding_wrapper_refuses_other_layers():
    with pytest.raises(ValueError, match="Received: base_layer=<Dense"):
        PromptEmbedding(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="Received: num_virtual_tokens=0"):
        SoftPrompt(0, D)


def test_insertion_after_the_start_token_keeps_every_per_token_input_aligned():
    x = {
        "token_ids": np.array([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], "bool"),
        "segment_ids": np.array([[0, 0, 0, 0, 0], [0, 1, 1, 0, 0]], "int32"),
    }
    packed, y, weights = insert_virtual_tokens(x, first_id=30, count=2, start_tokens=1)
    np.testing.assert_array_equal(
        packed["token_ids"], [[2, 30, 31, 5, 6, 3, 0], [2, 30, 31, 7, 3, 0, 0]]
    )
    np.testing.assert_array_equal(
        packed["padding_mask"], [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 0, 0]]
    )
    assert packed["padding_mask"].dtype == "bool"
    np.testing.assert_array_equal(packed["segment_ids"][1], [0, 0, 0, 1, 1, 0, 0])
    assert y is None and weights is None
    packed, _, _ = insert_virtual_tokens(x, first_id=30, count=2, start_tokens=0)
    np.testing.assert_array_equal(packed["token_ids"][1], [30, 31, 2, 7, 3, 0, 0])


@pytest.mark.parametrize("start_tokens", [0, 1])
def test_next_token_targets_skip_the_virtual_tokens(start_tokens):
    """Position t predicts the token at t + 1; targets that are virtual get weight 0."""
    tokens = np.array([[1, 5, 6, 7, 0, 0]]) if start_tokens else np.array([[5, 6, 7, 8, 0, 0]])
    mask = (np.arange(6) < 4)[None]
    x = {"token_ids": tokens[:, :-1], "padding_mask": mask[:, :-1]}
    y, weights = tokens[:, 1:], mask[:, 1:].astype("float32")
    packed, new_y, new_weights = insert_virtual_tokens(
        x, 40, 3, start_tokens, y=y, sample_weight=weights, token_targets=True, pad_id=0
    )
    ids = np.asarray(packed["token_ids"])[0]
    new_y, new_weights = np.asarray(new_y)[0], np.asarray(new_weights)[0]
    full = np.concatenate([ids, tokens[0, -1:]])  # the sequence the targets come from
    for t, (target, weight) in enumerate(zip(new_y, new_weights)):
        if weight:
            assert target == full[t + 1] and full[t + 1] < 40
        else:
            assert target == 0
    # Every target the original data weighted is still there, once.
    assert sorted(new_y[new_weights > 0]) == sorted(y[0][weights[0] > 0])


def test_hidden_virtual_tokens_become_padding():
    x = {"token_ids": np.array([[2, 30, 31, 5, 0]]), "padding_mask": np.array([[1, 1, 1, 1, 0]])}
    hidden = hide_virtual_tokens(x, first_id=30, pad_id=0)
    np.testing.assert_array_equal(hidden["token_ids"], [[2, 0, 0, 5, 0]])
    np.testing.assert_array_equal(hidden["padding_mask"], [[1, 0, 0, 1, 0]])


def _bert_preprocessor(length=8):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=BERT_VOCABULARY)
    return keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=length)


def test_preprocessor_reserves_positions_after_cls_and_counts_them_in_its_length():
    base = _bert_preprocessor()
    first = len(BERT_VOCABULARY)
    layer = PromptPreprocessor(base, adapters={"p": PromptPositions(3, vocabulary_size=first)})
    assert layer.sequence_length == 11 and layer.tokenizer is base.tokenizer
    x, y = layer(["a film", "the plot"], y=np.array([0, 1]))
    plain = base(["a film", "the plot"])
    ids = np.asarray(plain["token_ids"])
    virtual = np.broadcast_to([first, first + 1, first + 2], (2, 3))
    expected = np.concatenate([ids[:, :1], virtual, ids[:, 1:]], axis=1)
    np.testing.assert_array_equal(x["token_ids"], expected)
    np.testing.assert_array_equal(np.asarray(x["padding_mask"])[:, 1:4], True)
    np.testing.assert_array_equal(y, [0, 1])  # class labels are not per token
    layer.sequence_length = 9  # the total, prompt included
    assert base.sequence_length == 6 and np.asarray(layer(["a film"])["token_ids"]).shape == (1, 9)
    layer.active_adapters = []
    assert layer.sequence_length == 6
    np.testing.assert_array_equal(layer(["a film"])["token_ids"], base(["a film"])["token_ids"])


def test_causal_lm_preprocessor_reserves_positions_for_training_and_generation():
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=GPT2_VOCABULARY, merges=["z z"])
    base = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=8)
    first = len(GPT2_VOCABULARY)
    layer = PromptPreprocessor(base, adapters={"p": PromptPositions(2, vocabulary_size=first)})
    x, y, weights = layer(["abc"])
    np.testing.assert_array_equal(np.asarray(x["token_ids"])[0, :6], [0, first, first + 1, 1, 2, 3])
    np.testing.assert_array_equal(np.asarray(y)[0, :6], [0, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(np.asarray(weights)[0, :6], [0, 0, 1, 1, 1, 1])
    generated = layer.generate_preprocess(["abc"], sequence_length=10)
    np.testing.assert_array_equal(generated["token_ids"][0, :6], [0, first, first + 1, 1, 2, 3])
    assert generated["token_ids"].shape == (1, 10)
    assert layer.generate_postprocess(generated) == base.generate_postprocess(
        base.generate_preprocess(["abc"], sequence_length=8)
    )
    assert layer.add_end_token is base.add_end_token  # public attributes read through


def test_preprocessor_wrapper_refuses_other_layers():
    with pytest.raises(ValueError, match="Received: base_layer=<Dense"):
        PromptPreprocessor(keras.layers.Dense(3))
