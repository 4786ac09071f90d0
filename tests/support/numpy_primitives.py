"""Float64 NumPy primitives of the decoder references: norms, activations, rotary, attention.

Written from the architectures (the papers and Hugging Face's modeling files),
not from KerasHub or keras-adapters code. See `numpy_decoder_blocks` for the
conventions (plain `x W` projections, rotate-half rotary, grouped-query heads).
"""

import math

import numpy as np

# --------------------------------------------------------------------------- primitives


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def rms_norm(x, scale, epsilon, offset=0.0):
    """`x / rms(x) * (offset + scale)`; Gemma stores `w` and multiplies by `1 + w`."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + epsilon) * (offset + scale)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def gelu_exact(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


def silu(x):
    return x / (1 + np.exp(-x))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "swish": silu,
    "silu": silu,
    "gelu": gelu_exact,
    "gelu_tanh": gelu_tanh,
    "tanh": np.tanh,
}


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def bottleneck(z, w, activation, scaling):
    """`scaling * (act(z W_down + b_down) W_up + b_up)`."""
    hidden = ACTIVATIONS[activation](z @ w["down_kernel"] + w["down_bias"])
    return scaling * (hidden @ w["up_kernel"] + w["up_bias"])


def inverse_frequencies(dim, base):
    """`base ** (-2i / dim)` for `i < dim / 2` (Su et al. 2021)."""
    return base ** (-np.arange(0, dim, 2, dtype="float64") / dim)


def llama31_inverse_frequencies(dim, base, factor, low_freq_factor, high_freq_factor, context):
    """Llama 3.1's rotary: long wavelengths divided by `factor`, a smooth band between."""
    inverse = inverse_frequencies(dim, base)
    wavelength = 2 * np.pi / inverse
    low_freq_wavelength = context / low_freq_factor
    high_freq_wavelength = context / high_freq_factor
    smooth = (context / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * inverse / factor + smooth * inverse
    return np.where(
        wavelength > low_freq_wavelength,
        inverse / factor,
        np.where(wavelength < high_freq_wavelength, inverse, smoothed),
    )


def rotary(x, inverse_frequency, attention_factor=1.0):
    """Rotary embedding of `x` `[B, T, heads, dim]` at positions `0..T-1`, on (i, i + dim/2) pairs.

    Only the first `2 * len(inverse_frequency)` features rotate (GPT-NeoX's
    partial rotary); Phi-3's LongRoPE also scales cos and sin by
    `attention_factor`.
    """
    rotary_dim = 2 * len(inverse_frequency)
    rotated, passed = x[..., :rotary_dim], x[..., rotary_dim:]
    angles = np.arange(x.shape[1], dtype="float64")[:, None] * inverse_frequency
    angles = np.concatenate([angles, angles], axis=-1)[None, :, None, :]
    cos, sin = np.cos(angles) * attention_factor, np.sin(angles) * attention_factor
    half = rotary_dim // 2
    rotate_half = np.concatenate([-rotated[..., half:], rotated[..., :half]], axis=-1)
    return np.concatenate([rotated * cos + rotate_half * sin, passed], axis=-1)


def attention(q, k, v, padding_mask, scale, window=None, soft_cap=None, prefix=None):
    """Causal grouped-query attention.

    Args:
        q: `[B, T, heads, D]`; k, v: `[B, T, kv_heads, D]` (after rotary).
        padding_mask: `[B, T]`, 1 for real tokens.
        scale: factor on the logits.
        window: query `t` sees keys `s` with `t - window < s <= t`.
        soft_cap: logits become `cap * tanh(logits / cap)`.
        prefix: `(keys, values)`, each `[P, kv_heads, D]`, seen by every query.

    Returns:
        `[B, T, heads * D]`.
    """
    batch, length, heads, _ = q.shape
    visible = np.tril(np.ones((length, length), bool))[None] & padding_mask.astype(bool)[:, None]
    if window is not None:
        t, s = np.arange(length)[:, None], np.arange(length)[None, :]
        visible = visible & (t - s < window)[None]
    if prefix is not None:
        keys, values = prefix
        k = np.concatenate([np.broadcast_to(keys, (batch,) + keys.shape), k], axis=1)
        v = np.concatenate([np.broadcast_to(values, (batch,) + values.shape), v], axis=1)
        visible = np.concatenate([np.ones((batch, length, len(keys)), bool), visible], axis=-1)
    group = heads // k.shape[2]
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    logits = np.einsum("bthd,bshd->bhts", q, k) * scale
    if soft_cap is not None:
        logits = soft_cap * np.tanh(logits / soft_cap)
    logits = np.where(visible[:, None], logits, -1e30)
    out = np.einsum("bhts,bshd->bthd", softmax(logits), v)
    return out.reshape(batch, length, -1)
