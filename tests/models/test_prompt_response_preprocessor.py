"""`PromptResponsePreprocessor`: exact prompt/response packing and a loss on the response only."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
from keras_adapters.models import PromptResponsePreprocessor

CHARACTERS = list("abcdefghijklmnopqrstuvwxyz") + ["Ġ", "zz"]  # "zz": the one (unused) merge
VOCABULARY = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(CHARACTERS)}}
SPACE = VOCABULARY["Ġ"]


def _ids(text):
    return [SPACE if c == " " else VOCABULARY[c] for c in text]


def _preprocessor(sequence_length=8, **kwargs):
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=VOCABULARY, merges=["z z"])
    base = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=sequence_length)
    return PromptResponsePreprocessor.from_preprocessor(base, **kwargs)


def _expected(prompt, response, length, response_only=True):
    """KerasHub's packer keeps the start and end tokens and cuts the text between."""
    content = (_ids(prompt) + _ids(response))[: length - 1]
    is_response = ([0] * len(prompt) + [1] * len(response))[: length - 1]
    ids = [0] + content + [0]
    weights = [0] + is_response + [1] if response_only else [1] * len(ids)
    pad = length + 1 - len(ids)
    ids, weights = ids + [0] * pad, weights + [0] * pad
    mask = [1] * (length + 1 - pad) + [0] * pad
    return ids[:-1], mask[:-1], ids[1:], weights[1:]


@pytest.mark.parametrize("response_only", [True, False])
def test_pairs_are_packed_with_the_loss_on_the_response(response_only):
    prompts, responses = ["ab", "c d"], [" c", "e"]
    x, y, w = _preprocessor(8, response_only=response_only)(
        {"prompts": prompts, "responses": responses}
    )
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        ids, mask, labels, weights = _expected(prompt, response, 8, response_only)
        np.testing.assert_array_equal(x["token_ids"][row], ids)
        np.testing.assert_array_equal(x["padding_mask"][row], mask)
        np.testing.assert_array_equal(y[row], labels)
        np.testing.assert_array_equal(w[row], weights)


def test_long_pairs_are_cut_at_the_end_and_tf_data_gives_the_same():
    preprocessor = _preprocessor(5)
    pairs = {"prompts": ["abc"], "responses": ["defgh"]}
    eager = preprocessor(pairs)
    mapped = next(iter(tf.data.Dataset.from_tensor_slices(pairs).batch(1).map(preprocessor)))
    ids, _, labels, weights = _expected("abc", "defgh", 5)
    np.testing.assert_array_equal(eager[0]["token_ids"][0], ids)
    np.testing.assert_array_equal(eager[1][0], labels)
    np.testing.assert_array_equal(eager[2][0], weights)
    for got, want in zip(tf.nest.flatten(mapped), tf.nest.flatten(eager)):
        np.testing.assert_array_equal(got, want)


def test_plain_strings_are_ordinary_causal_lm_preprocessing():
    preprocessor = _preprocessor(6)
    x, y, w = preprocessor(["ab c"])
    np.testing.assert_array_equal(x["token_ids"][0], [0] + _ids("ab c") + [0])
    np.testing.assert_array_equal(np.asarray(w[0], "int32"), [1, 1, 1, 1, 1, 0])


def test_generation_honours_add_start_token():
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=VOCABULARY, merges=["z z"])
    preprocessor = PromptResponsePreprocessor(tokenizer, sequence_length=6, add_start_token=False)
    ids = preprocessor.generate_preprocess(["ab"])["token_ids"]
    np.testing.assert_array_equal(np.asarray(ids)[0][:2], _ids("ab"))


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"prompts": ["a"]}, r"exactly \{'prompts': ..., 'responses': ...\}"),
        ({"prompts": ["a"], "responses": ["b"], "extra": ["c"]}, "Received: keys="),
    ],
)
def test_bad_pairs_are_refused(inputs, message):
    with pytest.raises(ValueError, match=message):
        _preprocessor()(inputs)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Received: response_only='yes'"):
        _preprocessor(response_only="yes")
    with pytest.raises(ValueError, match="Received: preprocessor=GPT2Tokenizer"):
        PromptResponsePreprocessor.from_preprocessor(
            keras_hub.models.GPT2Tokenizer(vocabulary=VOCABULARY, merges=["z z"])
        )


def test_config_round_trip():
    preprocessor = _preprocessor(7, response_only=False)
    restored = PromptResponsePreprocessor.from_config(preprocessor.get_config())
    assert restored.response_only is False and restored.sequence_length == 7


def test_fit_trains_the_adapter_on_response_tokens_only():
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    causal_lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=_preprocessor(10))
    keras_adapters.add_adapter(causal_lm, keras_adapters.LoraConfig(rank=2), "a", verbose=False)
    causal_lm.compile(optimizer=keras.optimizers.Adam(5e-2), jit_compile=True)
    pairs = {"prompts": ["ab", "cd", "ef", "gh"], "responses": [" x", " y", " x", " y"]}
    x, y, w = causal_lm.preprocessor(pairs)
    logits = np.asarray(causal_lm(x), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token_loss = -np.take_along_axis(log_probs, np.asarray(y)[..., None], -1)[..., 0]
    weights = np.asarray(w, "float64")
    loss = causal_lm.evaluate(pairs, batch_size=4, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, (token_loss * weights).sum() / weights.size, rtol=1e-5)
    before = {v.path: v.numpy() for v in causal_lm.weights}
    # Preprocess once (KerasHub would map the preprocessor again every epoch).
    data = tf.data.Dataset.from_tensor_slices(pairs).batch(4).map(causal_lm.preprocessor).cache()
    causal_lm.preprocessor = None
    history = causal_lm.fit(data, epochs=15, verbose=0)
    moved = [v.path for v in causal_lm.weights if not np.array_equal(v.numpy(), before[v.path])]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert moved and all("/lora/a/" in p for p in moved)
