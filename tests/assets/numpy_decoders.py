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
    h = w("token_embd.weight")[np.asarray(token_ids)]
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
    return h @ w("token_embd.weight" if tied else "output.weight").T
