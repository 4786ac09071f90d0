"""Float64 NumPy forward passes of decoder LLMs, on GGUF tensors as stored.

Written from the architectures (llama.cpp's conventions), not from KerasHub:
the tensors keep their GGUF names and llama.cpp's layouts, so rotary
embeddings rotate adjacent pairs (the q/k row order llama.cpp writes), the
opposite convention to Hugging Face's `rotate_half`. A converter that
forgets to undo the row permutation therefore disagrees with this reference.
"""

import gguf
import numpy as np


def read_gguf_independently(path):
    """(metadata, float32 tensors) read with `gguf` alone, for references."""
    reader = gguf.GGUFReader(str(path), "r")
    metadata = {}
    for name, field in reader.fields.items():
        if name.startswith("tokenizer.ggml.") and name.endswith(
            ("tokens", "merges", "scores", "token_type")
        ):
            continue
        metadata[name] = field.contents()
    tensors = {}
    for tensor in reader.tensors:
        shape = tuple(int(n) for n in reversed(tensor.shape))
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        tensors[tensor.name] = np.array(values, np.float32).reshape(shape)
    return metadata, tensors


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rotate_adjacent_pairs(x, theta):
    """Rotary embedding of `x` (tokens, heads, dim) on pairs (2i, 2i+1)."""
    dim = x.shape[-1]
    inverse_frequency = theta ** (-np.arange(0, dim, 2, dtype="float64") / dim)
    angles = np.arange(x.shape[0], dtype="float64")[:, None] * inverse_frequency
    cos = np.cos(angles)[:, None, :]
    sin = np.sin(angles)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def causal_attention(q, k, v):
    """Softmax attention with a causal mask; k/v heads shared by groups."""
    tokens, heads, dim = q.shape
    group = heads // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(dim)
    future = np.triu(np.ones((tokens, tokens), bool), k=1)
    scores = np.where(future[None], -np.inf, scores)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    return np.einsum("hts,shd->thd", scores, v).reshape(tokens, heads * dim)


def embed(table, token_ids):
    return table[np.asarray(token_ids)].astype("float64")


def project(h, table, rows=16384):
    """`h @ table.T` in float64, converting `table` a slice at a time."""
    return np.concatenate(
        [
            h @ table[start : start + rows].astype("float64").T
            for start in range(0, table.shape[0], rows)
        ],
        axis=-1,
    )


def silu(x):
    return x / (1.0 + np.exp(-x))


def llama_logits(tensors, hp, token_ids):
    """Logits (tokens, vocab) of a llama.cpp Llama for one sequence.

    Args:
        tensors: dict of arrays under GGUF names (`blk.0.attn_q.weight`),
            projections as `(out, in)`, q/k rows in llama.cpp's order.
        hp: dict with `layers`, `heads`, `kv_heads`, `eps`, `rope_theta`.
        token_ids: 1D int array.
    """

    def w(name):
        return tensors[name].astype("float64")

    heads, kv_heads = hp["heads"], hp["kv_heads"]
    h = embed(tensors["token_embd.weight"], token_ids)
    tokens, hidden = h.shape
    dim = hidden // heads
    for i in range(hp["layers"]):
        p = f"blk.{i}."
        x = rms_norm(h, w(p + "attn_norm.weight"), hp["eps"])
        q = (x @ w(p + "attn_q.weight").T).reshape(tokens, heads, dim)
        k = (x @ w(p + "attn_k.weight").T).reshape(tokens, kv_heads, dim)
        v = (x @ w(p + "attn_v.weight").T).reshape(tokens, kv_heads, dim)
        q = rotate_adjacent_pairs(q, hp["rope_theta"])
        k = rotate_adjacent_pairs(k, hp["rope_theta"])
        h = h + causal_attention(q, k, v) @ w(p + "attn_output.weight").T
        x = rms_norm(h, w(p + "ffn_norm.weight"), hp["eps"])
        gate = silu(x @ w(p + "ffn_gate.weight").T)
        up = x @ w(p + "ffn_up.weight").T
        h = h + (gate * up) @ w(p + "ffn_down.weight").T
    h = rms_norm(h, w("output_norm.weight"), hp["eps"])
    tied = "output.weight" not in tensors
    return project(h, tensors["token_embd.weight" if tied else "output.weight"])


def rotate_halves(x, theta):
    """Rotary embedding of `x` (tokens, heads, dim) on (i, i + dim/2) pairs.

    llama.cpp's "NEOX" mode, used for Gemma (whose q/k rows it does not
    permute).
    """
    dim = x.shape[-1]
    half = dim // 2
    inverse_frequency = theta ** (-np.arange(0, dim, 2, dtype="float64") / dim)
    angles = np.arange(x.shape[0], dtype="float64")[:, None] * inverse_frequency
    cos = np.cos(angles)[:, None, :]
    sin = np.sin(angles)[:, None, :]
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def windowed_attention(q, k, v, scale, window=None):
    """Causal softmax attention; with `window`, token t sees s > t - window."""
    tokens, heads, dim = q.shape
    group = heads // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, k) * scale
    t = np.arange(tokens)[:, None]
    s = np.arange(tokens)[None, :]
    hidden = s > t
    if window is not None:
        hidden |= t - s >= window
    scores = np.where(hidden[None], -np.inf, scores)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    return np.einsum("hts,shd->thd", scores, v).reshape(tokens, heads * dim)


def gemma3_logits(tensors, hp, token_ids):
    """Logits (tokens, vocab) of a llama.cpp Gemma 3 for one sequence.

    Gemma 3 as llama.cpp runs it: embeddings times sqrt(hidden); per
    block RMSNorm -> attention with RMSNorm on each q and k head, rotary
    with base `rope_local` on sliding-window layers (all but every
    `pattern`-th) and `rope_global` on the others, scores scaled by
    1/sqrt(head_dim), keys limited to the last `window` positions on
    sliding-window layers -> RMSNorm -> residual; RMSNorm -> GELU(tanh)
    gated feed-forward -> RMSNorm -> residual; final RMSNorm; output tied
    to the embedding. GGUF norm weights multiply directly (llama.cpp
    stores Gemma's `1 + w`).

    Args:
        tensors: dict of arrays under GGUF names, projections `(out, in)`.
        hp: dict with `layers`, `heads`, `kv_heads`, `head_dim`, `eps`,
            `rope_global`, `rope_local`, `window` (None: no sliding
            window) and `pattern`.
        token_ids: 1D int array.
    """

    def w(name):
        return tensors[name].astype("float64")

    heads, kv_heads, dim = hp["heads"], hp["kv_heads"], hp["head_dim"]
    eps = hp["eps"]
    h = embed(tensors["token_embd.weight"], token_ids)
    tokens, hidden = h.shape
    h = h * np.sqrt(hidden)
    for i in range(hp["layers"]):
        p = f"blk.{i}."
        local = i % hp["pattern"] < hp["pattern"] - 1
        theta = hp["rope_local"] if local else hp["rope_global"]
        x = rms_norm(h, w(p + "attn_norm.weight"), eps)
        q = (x @ w(p + "attn_q.weight").T).reshape(tokens, heads, dim)
        k = (x @ w(p + "attn_k.weight").T).reshape(tokens, kv_heads, dim)
        v = (x @ w(p + "attn_v.weight").T).reshape(tokens, kv_heads, dim)
        q = rotate_halves(rms_norm(q, w(p + "attn_q_norm.weight"), eps), theta)
        k = rotate_halves(rms_norm(k, w(p + "attn_k_norm.weight"), eps), theta)
        window = hp["window"] if local else None
        attended = windowed_attention(q, k, v, 1 / np.sqrt(dim), window)
        attended = attended @ w(p + "attn_output.weight").T
        h = h + rms_norm(attended, w(p + "post_attention_norm.weight"), eps)
        x = rms_norm(h, w(p + "ffn_norm.weight"), eps)
        gate = gelu_tanh(x @ w(p + "ffn_gate.weight").T)
        up = x @ w(p + "ffn_up.weight").T
        out = (gate * up) @ w(p + "ffn_down.weight").T
        h = h + rms_norm(out, w(p + "post_ffw_norm.weight"), eps)
    h = rms_norm(h, w("output_norm.weight"), eps)
    return project(h, tensors["token_embd.weight"])
