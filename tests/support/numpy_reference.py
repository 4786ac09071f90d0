"""NumPy re-implementations of a post-LN TransformerEncoder block and the methods.

Written from ../shared/METHODS.md, independently of the library code.
"""

import numpy as np


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def gelu_exact(x):
    from math import erf

    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": gelu_exact,
}


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def bottleneck(z, w, activation, scaling):
    """`scaling * (act(z W_down + b_down) W_up + b_up)`."""
    hidden = ACTIVATIONS[activation](z @ w["down_kernel"] + w["down_bias"])
    return scaling * (hidden @ w["up_kernel"] + w["up_bias"])


def attention(x, padding_mask, w, prefix=None):
    """Multi-head self-attention; `prefix` = (keys [P,N,H], values [P,N,H])."""
    q = np.einsum("btc,cnh->btnh", x, w["query_kernel"]) + w["query_bias"]
    k = np.einsum("btc,cnh->btnh", x, w["key_kernel"]) + w["key_bias"]
    v = np.einsum("btc,cnh->btnh", x, w["value_kernel"]) + w["value_bias"]
    mask = padding_mask.astype(bool)[:, None, :]  # [B, 1, S]
    if prefix is not None:
        keys, values = prefix
        batch = x.shape[0]
        k = np.concatenate([np.broadcast_to(keys, (batch,) + keys.shape), k], axis=1)
        v = np.concatenate([np.broadcast_to(values, (batch,) + values.shape), v], axis=1)
        mask = np.concatenate([np.ones((batch, 1, keys.shape[0]), bool), mask], axis=-1)
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(mask[:, None, :, :], scores, -1e9)
    out = np.einsum("bnts,bsnh->btnh", softmax(scores), v)
    return np.einsum("btnh,nhc->btc", out, w["output_kernel"]) + w["output_bias"]


def encoder_block(x, padding_mask, w, epsilon, gelu=gelu_tanh, adapters=None, attention_fn=None):
    """A post-LN block; `adapters` = {"houlsby"|"pfeiffer"|"parallel"|"prefix": params}.

    `adapters["pfeiffer"]` may also be a list: adapters stacked in that order.

    `attention_fn(x)`, if given, computes the attention sublayer (up to its
    output projection) instead of the multi-head attention above: DeBERTa's
    disentangled attention is not re-implemented here.
    """
    adapters = adapters or {}
    if attention_fn is None:
        h_att = attention(x, padding_mask, w, adapters.get("prefix"))
    else:
        h_att = attention_fn(x)
    if "houlsby" in adapters:
        att, ffn, act, s = adapters["houlsby"]
        h_att = h_att + bottleneck(h_att, att, act, s)
    x1 = layer_norm(h_att + x, w["attention_norm_gamma"], w["attention_norm_beta"], epsilon)
    h_ffn = gelu(x1 @ w["ffn_intermediate_kernel"] + w["ffn_intermediate_bias"])
    h_ffn = h_ffn @ w["ffn_output_kernel"] + w["ffn_output_bias"]
    if "houlsby" in adapters:
        h_ffn = h_ffn + bottleneck(h_ffn, ffn, act, s)
    if "parallel" in adapters:
        params, act, s = adapters["parallel"]
        h_ffn = h_ffn + bottleneck(x1, params, act, s)
    z = h_ffn + x1
    norm = lambda t: layer_norm(t, w["ffn_norm_gamma"], w["ffn_norm_beta"], epsilon)  # noqa: E731
    if "pfeiffer" in adapters:
        # One (params, activation, scaling), or a list of them stacked: each reads
        # what the previous one produced, `u = t; u = u + A_i(u)`, and the block's
        # norm is applied again to `z + u - t` (one adapter: `z + A(t)`).
        stack = adapters["pfeiffer"]
        stack = [stack] if isinstance(stack, tuple) else stack
        t = u = norm(z)
        for params, act, s in stack:
            u = u + bottleneck(u, params, act, s)
        return norm(z + u - t)
    return norm(z)
