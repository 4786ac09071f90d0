"""`score_label_words`: label log-likelihoods equal log-softmax of full forward passes."""

import keras
import keras_hub
import numpy as np
import pytest

from keras_adapters.models import score_label_words

CHARACTERS = list("abcdefghijklmnopqrstuvwxyz") + ["Ġ", "zz"]
VOCABULARY = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(CHARACTERS)}}


@pytest.fixture(scope="module")
def causal_lm():
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=VOCABULARY, merges=["z z"])
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=32,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=16)
    model = keras_hub.models.GPT2CausalLM(backbone, preprocessor=preprocessor)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    return model


def _log_likelihood(causal_lm, prompt, continuation):
    """Sum of log p(continuation token | everything before), from one full forward pass."""
    ids = [0] + [VOCABULARY[c] for c in prompt] + continuation
    logits = np.asarray(
        causal_lm({"token_ids": np.array([ids]), "padding_mask": np.ones((1, len(ids)))}),
        "float64",
    )[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    start = len(ids) - len(continuation)
    return sum(log_probs[start - 1 + j, t] for j, t in enumerate(continuation))


PROMPTS = ["abc", "de", "fghij", "k"]


@pytest.mark.parametrize(
    "label_words", [["x", "y"], ["xy", "q", "rst"]], ids=["one_token", "several"]
)
def test_scores_equal_full_forward_passes(causal_lm, label_words):
    labels = [0, 1, 1, 0]
    scores = score_label_words(causal_lm, PROMPTS, label_words, labels, batch_size=3)
    words = [[VOCABULARY[c] for c in w] for w in label_words]
    expected = np.array([[_log_likelihood(causal_lm, p, w) for w in words] for p in PROMPTS])
    np.testing.assert_allclose(scores.log_likelihoods, expected, atol=1e-4)
    responses = [
        _log_likelihood(causal_lm, p, words[label] + [0]) for p, label in zip(PROMPTS, labels)
    ]
    np.testing.assert_allclose(scores.response_log_likelihoods, responses, atol=1e-4)
    tokens = sum(len(words[label]) + 1 for label in labels)
    assert scores.response_perplexity == pytest.approx(
        np.exp(-np.sum(responses) / tokens), rel=1e-5
    )
    assert scores.accuracy == np.mean(expected.argmax(-1) == np.array(labels))


@pytest.mark.parametrize(
    "prompts, label_words, labels, message",
    [
        ([], ["x", "y"], [], "must be non-empty"),
        (["a"], ["x"], [0], "at least two non-empty strings"),
        (["a"], ["x", "y"], [2], r"ids in \[0, 1\]"),
        (["a" * 40], ["x", "y"], [0], "the model takes at most 32"),
    ],
)
def test_bad_input_is_refused(causal_lm, prompts, label_words, labels, message):
    with pytest.raises(ValueError, match=message):
        score_label_words(causal_lm, prompts, label_words, labels)
