"""Cached generation with adapters equals step-by-step uncached forward passes.

KerasHub's `generate()` runs each block with a key/value cache
(`call_with_cache`); adapters, prefixes included, must give exactly the
tokens that greedy decoding with full, uncached forward passes gives.
"""

import numpy as np
import pytest

import keras_adapters
from tests.support import tiny_decoders

# GPT-NeoX is left out (see the last test). KerasHub 0.32's Qwen cannot trace
# cached decoding with its sliding window on (`if cache_update_index` on a
# tensor), adapters or not, so Qwen generates without it here.
FAMILIES = [name for name in tiny_decoders.FAMILIES if name != "gpt_neo_x"]
OVERRIDES = {"qwen": dict(use_sliding_window_attention=False)}
FAST_FAMILIES = ("llama3", "gpt2", "gemma3")
METHODS = {
    "lora": [keras_adapters.LoraConfig(rank=2, targets="all-linear")],
    "dora": [keras_adapters.DoraConfig(rank=2, targets="all-linear")],
    "ia3": [keras_adapters.IA3Config()],
    "houlsby": [keras_adapters.HoulsbyConfig(bottleneck_dim=2)],
    "pfeiffer": [keras_adapters.PfeifferConfig(bottleneck_dim=2)],
    "parallel": [keras_adapters.ParallelConfig(bottleneck_dim=2)],
    "prefix": [keras_adapters.PrefixConfig(num_prefix_tokens=3)],
    "lora_and_prefix": [
        keras_adapters.LoraConfig(rank=2, targets=["query", "value"]),
        keras_adapters.PrefixConfig(num_prefix_tokens=2, reparameterize=True, projection_dim=4),
    ],
}
LENGTH, STEPS = 10, 6


def tiny_causal_lm(family, seed=0):
    causal_lm = tiny_decoders.make_causal_lm(family, seed, **OVERRIDES.get(family, {}))
    causal_lm.compile(sampler="greedy")
    return causal_lm


def prompts():
    """Two right-padded prompts of different lengths."""
    token_ids, padding_mask = np.zeros((2, LENGTH), "int32"), np.zeros((2, LENGTH), "int32")
    token_ids[0, :5], token_ids[1, :2] = [5, 6, 7, 8, 9], [10, 11]
    padding_mask[0, :5], padding_mask[1, :2] = 1, 1
    return token_ids, padding_mask


def add(causal_lm, method, seed=2):
    names = []
    for index, config in enumerate(METHODS[method]):
        name = f"{method}_{index}"
        keras_adapters.add_adapter(causal_lm, config, name, verbose=False)
        names.append(name)
    keras_adapters.set_active_adapters(causal_lm, names)
    rng = np.random.default_rng(seed)
    for variable in causal_lm.trainable_weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    return names


def generate(causal_lm):
    """`generate()`'s compiled function (the one KerasHub caches), on token ids."""
    token_ids, padding_mask = prompts()
    outputs = causal_lm.make_generate_function()(
        {"token_ids": token_ids, "padding_mask": padding_mask}, stop_token_ids=None
    )
    return np.asarray(outputs["token_ids"])


def uncached(causal_lm, steps=STEPS):
    """Greedy decoding with one full forward pass of the whole sequence per new token."""
    token_ids, padding_mask = prompts()
    for _ in range(steps):
        logits = np.asarray(causal_lm({"token_ids": token_ids, "padding_mask": padding_mask}))
        for row, length in enumerate(padding_mask.sum(axis=1)):
            if length < LENGTH:
                token_ids[row, length] = logits[row, length - 1].argmax()
                padding_mask[row, length] = 1
    return token_ids


def _cases(families):
    return [(family, method) for family in families for method in METHODS]


@pytest.mark.parametrize("family, method", _cases(FAST_FAMILIES))
def test_cached_generation_equals_uncached_forward_passes(family, method):
    causal_lm = tiny_causal_lm(family)
    add(causal_lm, method)
    expected = uncached(causal_lm, steps=LENGTH)
    np.testing.assert_array_equal(generate(causal_lm), expected)


@pytest.mark.slow
@pytest.mark.parametrize("family, method", _cases([f for f in FAMILIES if f not in FAST_FAMILIES]))
def test_cached_generation_equals_uncached_on_every_decoder(family, method):
    test_cached_generation_equals_uncached_forward_passes(family, method)


def test_generate_follows_switches_merges_and_disabling():
    causal_lm = tiny_causal_lm("llama3")
    base = generate(causal_lm)
    (lora,) = add(causal_lm, "lora", seed=3)
    (prefix,) = add(causal_lm, "prefix", seed=4)
    keras_adapters.set_active_adapters(causal_lm, lora)
    with_lora = generate(causal_lm)
    np.testing.assert_array_equal(with_lora, uncached(causal_lm, steps=LENGTH))
    keras_adapters.set_active_adapters(causal_lm, prefix)
    with_prefix = generate(causal_lm)  # a stale compiled generate would repeat with_lora
    np.testing.assert_array_equal(with_prefix, uncached(causal_lm, steps=LENGTH))
    assert not np.array_equal(with_prefix, with_lora)
    keras_adapters.disable_adapters(causal_lm)
    np.testing.assert_array_equal(generate(causal_lm), base)
    keras_adapters.enable_adapters(causal_lm)
    keras_adapters.set_active_adapters(causal_lm, lora)
    keras_adapters.merge_adapters(causal_lm)
    np.testing.assert_array_equal(generate(causal_lm), with_lora)


def test_kerashub_gpt_neo_x_cached_decoding_differs_even_without_adapters():
    """KerasHub 0.32 rotates the one new query of a cached GPT-NeoX step at position 0.

    keras-team/keras-hub#2870 fixes it; GPT-NeoX is therefore left out of the
    cached-generation grid. When KerasHub is fixed this test fails: put
    GPT-NeoX into FAMILIES and delete it.
    """
    causal_lm = tiny_decoders.make_causal_lm("gpt_neo_x")
    backbone = causal_lm.backbone
    token_ids = np.array([[5, 6, 7, 8]], "int32")
    full = np.asarray(causal_lm({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}))
    head_dim = backbone.hidden_dim // backbone.num_heads
    cache = np.zeros((1, backbone.num_layers, 2, 4, backbone.num_heads, head_dim), "float32")
    _, _, cache = causal_lm.call_with_cache(token_ids[:, :3], cache, 0)
    step, _, _ = causal_lm.call_with_cache(token_ids[:, 3:], cache, 3)
    assert np.abs(np.asarray(step)[0, 0] - full[0, 3]).max() > 1e-2
