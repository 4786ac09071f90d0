"""A tiny 7-layer Gemma 3 written as llama.cpp writes a GGUF file.

Layer 5 is global, the others use a 3-token sliding window; head_dim (32)
differs from hidden/heads (16), as in the real 270M model (256 vs 160).
Norm weights are stored as llama.cpp stores Gemma's: `1 + w`.
"""

import gguf
import numpy as np

from tests.assets.tiny_gguf import Q

CONFIG = {
    "hidden": 64,
    "heads": 4,
    "kv_heads": 2,
    "head_dim": 32,
    "ffn": 96,
    "layers": 7,
    "window": 3,
    "eps": 1e-6,
}
SPECIALS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<img>",
    "<start_of_image>",
    "<end_of_image>",
]
CHARS = ["▁", "a", "d", "e", "h", "l", "o", "r", "w"]
MERGED = ["he", "ll", "llo", "hello", "▁w", "or", "▁wor", "ld", "▁world"]
TOKENS = SPECIALS + ["\n"] + CHARS + MERGED + list("bcfgikmnps")
TOKEN_TYPES = [3] * len(SPECIALS) + [4] + [1] * (len(TOKENS) - len(SPECIALS) - 1)
# SentencePiece BPE merges the pair whose merged piece scores highest.
SCORES = [-1000.0] * (len(SPECIALS) + 1) + [
    -float(i) for i in range(1, len(TOKENS) - len(SPECIALS))
]

QUANTIZED = {
    "token_embd.weight": Q.Q8_0,
    "blk.0.attn_q.weight": Q.Q5_0,
    "blk.5.attn_output.weight": Q.Q4_1,
    "blk.6.ffn_down.weight": Q.Q8_0,
}
NORMS = (
    "attn_norm",
    "attn_q_norm",
    "attn_k_norm",
    "post_attention_norm",
    "ffn_norm",
    "post_ffw_norm",
)


def gguf_tensors(seed=0):
    """Float32 tensors under GGUF names, norms already stored as `1 + w`."""
    rng = np.random.default_rng(seed)
    h, f, d = CONFIG["hidden"], CONFIG["ffn"], CONFIG["head_dim"]
    qd, kd = CONFIG["heads"] * d, CONFIG["kv_heads"] * d

    def r(*shape, scale=0.2):
        return rng.normal(0, scale, shape).astype("float32")

    tensors = {
        "token_embd.weight": r(len(TOKENS), h, scale=0.5),
        "output_norm.weight": 1 + r(h, scale=0.1),
    }
    for i in range(CONFIG["layers"]):
        p = f"blk.{i}."
        tensors.update(
            {
                p + "attn_q.weight": r(qd, h),
                p + "attn_k.weight": r(kd, h),
                p + "attn_v.weight": r(kd, h),
                p + "attn_output.weight": r(h, qd),
                p + "ffn_gate.weight": r(f, h),
                p + "ffn_up.weight": r(f, h),
                p + "ffn_down.weight": r(h, f),
            }
        )
        for norm in NORMS:
            size = d if norm in ("attn_q_norm", "attn_k_norm") else h
            tensors[p + norm + ".weight"] = 1 + r(size, scale=0.1)
    return tensors


def write_tiny_gemma3_gguf(
    path,
    seed=0,
    architecture="gemma3",
    drop_tensors=(),
    extra_tensors=None,
    overrides=None,
    tokenizer_model="llama",
):
    """Writes the tiny model; returns the tensors as stored (dequantised)."""
    writer = gguf.GGUFWriter(str(path), architecture)
    values = {
        "context_length": (128, "uint32"),
        "embedding_length": (CONFIG["hidden"], "uint32"),
        "block_count": (CONFIG["layers"], "uint32"),
        "feed_forward_length": (CONFIG["ffn"], "uint32"),
        "attention.head_count": (CONFIG["heads"], "uint32"),
        "attention.head_count_kv": (CONFIG["kv_heads"], "uint32"),
        "attention.key_length": (CONFIG["head_dim"], "uint32"),
        "attention.value_length": (CONFIG["head_dim"], "uint32"),
        "attention.layer_norm_rms_epsilon": (CONFIG["eps"], "float32"),
        "rope.freq_base": (1_000_000.0, "float32"),
        "attention.sliding_window": (CONFIG["window"], "uint32"),
    }
    for key, (value, kind) in {**values, **(overrides or {})}.items():
        getattr(writer, f"add_{kind}")(f"{architecture}.{key}", value)
    writer.add_string("tokenizer.ggml.model", tokenizer_model)
    writer.add_array("tokenizer.ggml.tokens", TOKENS)
    writer.add_array("tokenizer.ggml.scores", SCORES)
    writer.add_array("tokenizer.ggml.token_type", TOKEN_TYPES)
    for role, value in (("bos", 2), ("eos", 1), ("unknown", 3), ("padding", 0)):
        writer.add_uint32(f"tokenizer.ggml.{role}_token_id", value)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_space_prefix", False)
    stored = {}
    for name, value in gguf_tensors(seed).items():
        if name in drop_tensors:
            continue
        qtype = QUANTIZED.get(name, Q.F32)
        data = gguf.quants.quantize(value, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype)
        stored[name] = gguf.quants.dequantize(data, qtype).reshape(value.shape)
    for name, value in (extra_tensors or {}).items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored
