"""`generate()` with a soft prompt: cached decoding equals uncached full forward passes.

The prompt occupies positions 1..P (after the first token) of the cache like
any other prefix of the sequence: KerasHub's `generate()` fills the cache
with the whole reserved prompt first (`cache_update_index` starting at its
length), then decodes one real token at a time.
"""

import keras
import keras_hub
import numpy as np
import pytest

import keras_adapters
from tests.export.test_export_causal_lm import VOCABULARY
from tests.injection.test_cached_generation import OVERRIDES, prompts
from tests.support import tiny_decoders

P = 3
FAST_FAMILIES = ("gpt2",)
# GPT-NeoX: KerasHub 0.32 rotates cached queries wrongly (see test_cached_generation.py).
FAMILIES = [f for f in tiny_decoders.FAMILIES if f != "gpt_neo_x"]


def _prompted(causal_lm, seed=2):
    keras_adapters.add_adapter(
        causal_lm, keras_adapters.PromptConfig(num_virtual_tokens=P), "p", verbose=False
    )
    (prompt,) = causal_lm.trainable_weights
    prompt.assign(np.random.default_rng(seed).normal(size=prompt.shape).astype("float32"))
    causal_lm.compile(sampler="greedy")
    token_ids, padding_mask = prompts()
    x = {"token_ids": token_ids, "padding_mask": padding_mask}
    return {
        k: np.array(v) for k, v in keras_adapters.reserve_prompt_positions(causal_lm, x).items()
    }


def _uncached(causal_lm, x):
    """Greedy decoding with one full forward pass of the whole sequence per new token."""
    token_ids, padding_mask = x["token_ids"].copy(), x["padding_mask"].copy()
    length = token_ids.shape[1]
    while padding_mask.sum(axis=1).min() < length:
        logits = np.asarray(causal_lm({"token_ids": token_ids, "padding_mask": padding_mask}))
        for row, used in enumerate(padding_mask.sum(axis=1)):
            if used < length:
                token_ids[row, used] = logits[row, used - 1].argmax()
                padding_mask[row, used] = 1
    return token_ids


def _check(family):
    causal_lm = tiny_decoders.make_causal_lm(family, **OVERRIDES.get(family, {}))
    x = _prompted(causal_lm)
    cached = causal_lm.make_generate_function()(dict(x), stop_token_ids=None)
    np.testing.assert_array_equal(np.asarray(cached["token_ids"]), _uncached(causal_lm, x))


@pytest.mark.parametrize("family", FAST_FAMILIES)
def test_cached_generation_equals_uncached_forward_passes(family):
    _check(family)


@pytest.mark.slow
@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in FAST_FAMILIES])
def test_cached_generation_equals_uncached_on_every_decoder(family):
    _check(family)


def test_generate_on_text_reserves_the_prompt_and_returns_only_real_tokens():
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
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=12)
    causal_lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=preprocessor)
    rng = np.random.default_rng(1)
    for variable in causal_lm.weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    config = keras_adapters.PromptConfig(num_virtual_tokens=P, init_text="ab")
    keras_adapters.add_adapter(causal_lm, config, "p", verbose=False)
    causal_lm.compile(sampler="greedy")
    texts = ["abc", "de fg"]
    generated = causal_lm.generate(texts, max_length=16, stop_token_ids=None)
    x = causal_lm.preprocessor.generate_preprocess(texts, sequence_length=16)
    assert np.asarray(x["token_ids"]).shape == (2, 16)  # max_length counts the prompt
    tokens = _uncached(causal_lm, {k: np.asarray(v) for k, v in x.items()})
    real = tokens[:, 1 + P :]  # after the start token and the prompt, everything is text
    assert (real < len(VOCABULARY)).all()
    special = tokenizer.special_token_ids  # generate() strips them
    expected = [tokenizer.detokenize(row[~np.isin(row, special)]) for row in real]
    assert generated == expected
