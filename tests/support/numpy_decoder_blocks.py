"""Float64 NumPy references of one block of each KerasHub decoder family, with adapters.

Written from the architectures (the papers and Hugging Face's modeling files)
and from ../shared/METHODS.md, not from KerasHub or keras-adapters code:

- every projection is a plain matrix `y = x W (+ b)` on flattened feature
  axes, as in Hugging Face (`read_block_weights` turns KerasHub's einsum
  kernels into these matrices, and LoRA's `A`, `B` into `[in, r]`, `[r, out]`);
- rotary embeddings rotate halves (`rotate_half`), on the first
  `rotary_dim` features of each head;
- keys and values of grouped-query attention serve consecutive groups of
  query heads (query head `n` uses key/value head `n // (heads / kv_heads)`);
- causal masks, sliding windows (query `t` sees keys `s` with
  `t - window < s <= t`) and padding masks are built here.

Adapters (all optional, several at once), in the form `block(..., adapters=)` takes:

- `"lora"`: `{slot: (A [in, r], B [r, out], scale)}`: `y = x W + b + scale x A B`;
- `"houlsby"`: `(attention site weights, ffn site weights, activation, scaling)`:
  `h + A(h)` on the attention branch output and on the FFN output, before
  their residual adds (and before Gemma's post norms);
- `"pfeiffer"`: `(weights, activation, scaling)`: the FFN-output site only;
- `"parallel"`: `(weights, activation, scaling)`: `A(x_ffn)` added to the FFN
  output, `x_ffn` being the FFN input (the normed residual stream);
- `"prefix"`: `(keys [P, kv_heads, D], values [P, kv_heads, D])`: prepended to
  the keys and values after rotary, every query sees them, positions of the
  real tokens stay `0..S-1`.

with `A(z) = scaling * (act(z W_down + b_down) W_up + b_up)`.
"""

import math

import numpy as np

from tests.support.decoder_block_weights import read_block_weights
from tests.support.numpy_primitives import (
    ACTIVATIONS,
    attention,
    bottleneck,
    gelu_tanh,
    inverse_frequencies,
    layer_norm,
    llama31_inverse_frequencies,
    rms_norm,
    rotary,
    silu,
)

__all__ = ["block", "block_hparams", "read_block_weights"]

# --------------------------------------------------------------------------- adapters


class _Adapters:
    """The adapter parameters of one block, applied where METHODS.md puts them."""

    def __init__(self, weights, adapters):
        self.weights = weights
        self.adapters = adapters or {}

    def linear(self, slot, x):
        """`x W + b`, plus `scale * x A B` if LoRA adapts the slot."""
        w = self.weights[slot]
        y = x @ w["kernel"]
        if w.get("bias") is not None:
            y = y + w["bias"]
        if slot in self.adapters.get("lora", {}):
            a, b, scale = self.adapters["lora"][slot]
            y = y + scale * (x @ a) @ b
        return y

    def attention_output(self, h):
        if "houlsby" in self.adapters:
            site, _, act, scaling = self.adapters["houlsby"]
            h = h + bottleneck(h, site, act, scaling)
        return h

    def ffn_output(self, h, ffn_input):
        if "houlsby" in self.adapters:
            _, site, act, scaling = self.adapters["houlsby"]
            h = h + bottleneck(h, site, act, scaling)
        if "pfeiffer" in self.adapters:
            site, act, scaling = self.adapters["pfeiffer"]
            h = h + bottleneck(h, site, act, scaling)
        if "parallel" in self.adapters:
            site, act, scaling = self.adapters["parallel"]
            h = h + bottleneck(ffn_input, site, act, scaling)
        return h

    @property
    def prefix(self):
        return self.adapters.get("prefix")


def _heads(x, heads):
    return x.reshape(x.shape[0], x.shape[1], heads, -1)


# --------------------------------------------------------------------------- blocks


def gpt2_block(x, padding_mask, w, hp, adapters=None):
    """GPT-2 / OPT: pre-LN, biases everywhere, learned positions (outside the block)."""
    a = _Adapters(w, adapters)
    ln = lambda t, n: layer_norm(t, w[n]["gamma"], w[n]["beta"], hp["epsilon"])  # noqa: E731
    h = ln(x, "attention_norm")
    heads = hp["heads"]
    q, k, v = (_heads(a.linear(s, h), heads) for s in ("query", "key", "value"))
    scale = 1 / np.sqrt(q.shape[-1])
    attended = attention(q, k, v, padding_mask, scale, prefix=a.prefix)
    x1 = x + a.attention_output(a.linear("attention_output", attended))
    h = ln(x1, "ffn_norm")
    f = a.linear("ffn_output", ACTIVATIONS[hp["activation"]](a.linear("ffn_intermediate", h)))
    return x1 + a.ffn_output(f, h)


def gpt_neo_x_block(x, padding_mask, w, hp, adapters=None):
    """GPT-NeoX: fused per-head `[q | k | v]` projection, partial rotary, parallel residual.

    `x + attn(LN_1(x)) + mlp(LN_2(x))` (`use_parallel_residual=True`).
    """
    a = _Adapters(w, adapters)
    ln = lambda t, n: layer_norm(t, w[n]["gamma"], w[n]["beta"], hp["epsilon"])  # noqa: E731
    h = ln(x, "attention_norm")
    qkv = _heads(a.linear("query_key_value", h), hp["heads"])
    q, k, v = np.split(qkv, 3, axis=-1)
    head_dim = q.shape[-1]
    inverse = inverse_frequencies(int(head_dim * hp["rotary_percentage"]), hp["rope_base"])
    q, k = rotary(q, inverse), rotary(k, inverse)
    attended = attention(q, k, v, padding_mask, 1 / np.sqrt(head_dim), prefix=a.prefix)
    h_att = a.attention_output(a.linear("attention_output", attended))
    h = ln(x, "ffn_norm")
    f = a.linear("ffn_output", ACTIVATIONS[hp["activation"]](a.linear("ffn_intermediate", h)))
    return x + h_att + a.ffn_output(f, h)


def llama_block(x, padding_mask, w, hp, adapters=None):
    """Llama, Llama 3, Mistral, Qwen, Qwen 3, Phi-3.

    RMSNorm; q/k/v (Qwen: with biases; Qwen 3: RMSNorm on each q and k head
    before rotary); rotary (Llama 3.1 and Phi-3 LongRoPE variants through
    `hp`); grouped-query attention (Mistral, Qwen: sliding window); SwiGLU
    `down(silu(gate(x)) * up(x))`.
    """
    a = _Adapters(w, adapters)
    eps = hp["epsilon"]
    h = rms_norm(x, w["attention_norm"]["scale"], eps)
    q = _heads(a.linear("query", h), hp["heads"])
    k = _heads(a.linear("key", h), hp["kv_heads"])
    v = _heads(a.linear("value", h), hp["kv_heads"])
    if "query_norm" in w:  # Qwen 3: per-head RMSNorm, the block's epsilon
        qk_eps = hp.get("qk_norm_epsilon", eps)
        q = rms_norm(q, w["query_norm"]["scale"], qk_eps)
        k = rms_norm(k, w["key_norm"]["scale"], qk_eps)
    inverse, factor = _llama_rotary(hp, q.shape[-1], x.shape[1])
    q, k = rotary(q, inverse, factor), rotary(k, inverse, factor)
    scale = 1 / np.sqrt(q.shape[-1])
    attended = attention(q, k, v, padding_mask, scale, hp.get("window"), prefix=a.prefix)
    x1 = x + a.attention_output(a.linear("attention_output", attended))
    h = rms_norm(x1, w["ffn_norm"]["scale"], eps)
    gated = silu(a.linear("ffn_gate", h)) * a.linear("ffn_intermediate", h)
    return x1 + a.ffn_output(a.linear("ffn_output", gated), h)


def _llama_rotary(hp, head_dim, length):
    base = hp["rope_base"]
    if "llama31" in hp:
        return llama31_inverse_frequencies(head_dim, base, **hp["llama31"]), 1.0
    if "longrope" in hp:  # Phi-3 ("su"): per-frequency factors, cos/sin scaled
        rope = hp["longrope"]
        factors = rope["long"] if length > rope["original_length"] else rope["short"]
        inverse = inverse_frequencies(head_dim, base) / np.asarray(factors, "float64")
        ratio = rope["max_length"] / rope["original_length"]
        factor = (
            1.0
            if ratio <= 1
            else math.sqrt(1 + math.log(ratio) / math.log(rope["original_length"]))
        )
        return inverse, factor
    return inverse_frequencies(head_dim, base), 1.0


def gemma_block(x, padding_mask, w, hp, adapters=None):
    """Gemma, Gemma 2 (soft cap, post norms, sliding window) and Gemma 3 (q/k norms).

    RMSNorm multiplies by `1 + w`; queries are scaled by `1/sqrt(head_dim)`
    or, with `query_head_dim_normalize=False`, `1/sqrt(hidden / heads)`;
    GeGLU `down(gelu_tanh(gate(x)) * up(x))`; post-attention and post-FFN
    norms follow the output projections (the adapters' sites are before them).

    `hp["prefix_key_layout"] == "interleaved"` (KerasHub's Gemma 1/2 attention):
    after rotary, that layer reorders each head's features as
    `(x_0, x_{D/2}, x_1, x_{D/2+1}, ...)`, for queries and keys alike, so its
    scores are unchanged but learned prefix keys live in that order; they
    are put back in rotate-half order here.
    """
    a = _Adapters(w, adapters)
    eps = hp["epsilon"]
    norm = lambda t, n: rms_norm(t, w[n]["scale"], eps, offset=1.0)  # noqa: E731
    h = norm(x, "attention_norm")
    q = _heads(a.linear("query", h), hp["heads"])
    k = _heads(a.linear("key", h), hp["kv_heads"])
    v = _heads(a.linear("value", h), hp["kv_heads"])
    if "query_norm" in w:
        q, k = norm(q, "query_norm"), norm(k, "key_norm")
    inverse = inverse_frequencies(q.shape[-1], hp["rope_base"])
    q, k = rotary(q, inverse), rotary(k, inverse)
    if hp["query_head_dim_normalize"]:
        scale = 1 / np.sqrt(q.shape[-1])
    else:  # Gemma 2 27B: query_pre_attn_scalar = hidden / heads
        scale = 1 / np.sqrt(x.shape[-1] / hp["heads"])
    prefix = a.prefix
    if prefix is not None and hp.get("prefix_key_layout") == "interleaved":
        keys, values = prefix
        prefix = (np.concatenate([keys[..., 0::2], keys[..., 1::2]], axis=-1), values)
    attended = attention(q, k, v, padding_mask, scale, hp.get("window"), hp.get("soft_cap"), prefix)
    h_att = a.attention_output(a.linear("attention_output", attended))
    if "post_attention_norm" in w:
        h_att = norm(h_att, "post_attention_norm")
    x1 = x + h_att
    h = norm(x1, "ffn_norm")
    gated = gelu_tanh(a.linear("ffn_gate", h)) * a.linear("ffn_intermediate", h)
    f = a.ffn_output(a.linear("ffn_output", gated), h)
    if "post_ffw_norm" in w:
        f = norm(f, "post_ffw_norm")
    return x1 + f


BLOCKS = {
    "gpt2": gpt2_block,
    "opt": gpt2_block,
    "gpt_neo_x": gpt_neo_x_block,
    "llama": llama_block,
    "llama3": llama_block,
    "mistral": llama_block,
    "qwen": llama_block,
    "qwen3": llama_block,
    "phi3": llama_block,
    "gemma": gemma_block,
    "gemma3": gemma_block,
}


def block(family, x, padding_mask, weights, hp, adapters=None):
    """The output of one block of `family` (float64)."""
    as64 = lambda t: np.asarray(t, "float64")  # noqa: E731
    return BLOCKS[family](as64(x), np.asarray(padding_mask), weights, hp, adapters)


# --------------------------------------------------------------------------- hyperparameters


def block_hparams(family, config, index):
    """The architecture's hyperparameters of block `index`, from the backbone arguments.

    Constants the backbones do not take as arguments are the architectures'
    own: GPT-2 and OPT use LayerNorm epsilon 1e-5 and GELU (tanh) / ReLU;
    Gemma 2 slides its window on even layers, Gemma 3 on all but every
    sixth layer, with rotary bases 10,000 (local) and 1,000,000 (global).
    GPT-NeoX's activation is GELU's tanh form (Hugging Face's `gelu_fast`,
    GPT-NeoX-20B's), which KerasHub hard-codes; Pythia's Hugging Face
    configurations declare the exact GELU instead (`"activation": "gelu"`
    here gives that one; on these tiny blocks the two differ by ~1e-3).
    """
    heads = config.get("num_query_heads", config.get("num_heads"))
    hp = {"heads": heads, "kv_heads": config.get("num_key_value_heads", heads)}
    hp["epsilon"] = config.get("layer_norm_epsilon", 1e-5 if family in ("gpt2", "opt") else 1e-6)
    if family in ("gpt2", "opt"):
        hp["activation"] = "gelu_tanh" if family == "gpt2" else "relu"
        return hp
    if family == "gpt_neo_x":
        hp["epsilon"] = config.get("layer_norm_epsilon", 1e-5)
        hp["activation"] = "gelu_tanh"
        hp["rotary_percentage"] = config.get("rotary_percentage", 0.25)
        hp["rope_base"] = config.get("rotary_max_wavelength", 10000)
        return hp
    if family in ("gemma", "gemma3"):
        if family == "gemma":
            local = config.get("use_sliding_window_attention", False) and index % 2 == 0
            hp["rope_base"] = 10000.0
            hp["prefix_key_layout"] = "interleaved"
        else:
            local = config.get("use_sliding_window_attention", False) and index % 6 < 5
            hp["rope_base"] = 10000.0 if local else 1000000.0
        hp["window"] = config["sliding_window_size"] if local else None
        hp["soft_cap"] = config.get("attention_logit_soft_cap")
        hp["query_head_dim_normalize"] = config.get("query_head_dim_normalize", True)
        return hp
    hp["rope_base"] = config.get("rope_max_wavelength", 10000)
    if config.get("rope_frequency_adjustment_factor") is not None:
        hp["llama31"] = dict(
            factor=config["rope_frequency_adjustment_factor"],
            low_freq_factor=config["rope_low_freq_factor"],
            high_freq_factor=config["rope_high_freq_factor"],
            context=config["rope_pretraining_sequence_length"],
        )
    if config.get("rope_scaling_type") == "su":
        hp["longrope"] = dict(
            short=config["rope_scaling_short_factor"],
            long=config["rope_scaling_long_factor"],
            original_length=config["pretraining_sequence_length"],
            max_length=config["max_sequence_length"],
        )
    if family == "mistral":
        hp["window"] = config.get("sliding_window", 512)
    elif family == "qwen" and config.get("use_sliding_window_attention"):
        hp["window"] = config["sliding_window_size"]
    elif family == "qwen3":
        hp["window"] = config.get("sliding_window_size", 32768)
    return hp
