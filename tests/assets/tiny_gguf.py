"""A tiny 2-layer Llama written as llama.cpp writes a GGUF file.

Weights start in Hugging Face layout; q and k rows are permuted per head the
way llama.cpp's converter does; some tensors are stored Q8_0 or Q4_1.
"""

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType

CONFIG = {
    "hidden": 64,
    "heads": 4,
    "kv_heads": 2,
    "ffn": 96,
    "layers": 2,
    "context": 128,
    "rope_theta": 5000.0,
    # Far from KerasHub's default 1e-6, so a dropped epsilon shows.
    "eps": 0.05,
}

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHARS = ["a", "d", "e", "h", "l", "o", "r", "w", "Ġ", "Ċ"]
MERGES = [
    "h e",
    "l l",
    "he ll",
    "hell o",
    "Ġ w",
    "o r",
    "Ġw or",
    "l d",
    "Ġwor ld",
]
TOKENS = SPECIALS + CHARS + ["".join(m.split(" ")) for m in MERGES] + ["<tool>"] + list("bcfgikmnp")
TOKEN_TYPES = [3, 3, 3] + [1] * (len(CHARS) + len(MERGES)) + [4] + [1] * 9
TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"

# Stored types; every other tensor is F32.
QUANTIZED = {
    "token_embd.weight": Q.Q8_0,
    "blk.0.attn_q.weight": Q.Q4_1,
    "blk.0.attn_k.weight": Q.Q8_0,
    "blk.1.attn_output.weight": Q.Q4_1,
    "blk.1.ffn_down.weight": Q.Q4_1,
    "output.weight": Q.Q8_0,
}


def llama_cpp_permute(weight, num_heads):
    """Row order llama.cpp gives q/k: per head, halves -> adjacent pairs."""
    return (
        weight.reshape(num_heads, 2, weight.shape[0] // num_heads // 2, -1)
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def hf_weights(tied=True, seed=0):
    """Random float32 weights under Hugging Face Llama names."""
    rng = np.random.default_rng(seed)
    h, f, v = CONFIG["hidden"], CONFIG["ffn"], len(TOKENS)
    head_dim = h // CONFIG["heads"]
    kv = CONFIG["kv_heads"] * head_dim

    def r(*shape, scale=0.2):
        return rng.normal(0, scale, shape).astype("float32")

    weights = {
        "model.embed_tokens.weight": r(v, h, scale=1.0),
        "model.norm.weight": 1 + r(h, scale=0.1),
    }
    if not tied:
        weights["lm_head.weight"] = r(v, h, scale=0.5)
    for i in range(CONFIG["layers"]):
        p = f"model.layers.{i}."
        weights.update(
            {
                p + "input_layernorm.weight": 1 + r(h, scale=0.1),
                p + "self_attn.q_proj.weight": r(h, h),
                p + "self_attn.k_proj.weight": r(kv, h),
                p + "self_attn.v_proj.weight": r(kv, h),
                p + "self_attn.o_proj.weight": r(h, h),
                p + "post_attention_layernorm.weight": 1 + r(h, scale=0.1),
                p + "mlp.gate_proj.weight": r(f, h),
                p + "mlp.up_proj.weight": r(f, h),
                p + "mlp.down_proj.weight": r(h, f),
            }
        )
    return weights


HF_TO_GGUF = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf_name):
    if hf_name in HF_TO_GGUF:
        return HF_TO_GGUF[hf_name]
    _, _, i, rest = hf_name.split(".", 3)
    return f"blk.{i}.{HF_TO_GGUF[rest]}"


def write_tiny_llama_gguf(
    path,
    tied=True,
    seed=0,
    architecture="llama",
    drop_tensors=(),
    drop_metadata=(),
    metadata=None,
    extra_tensors=None,
    tokenizer_model="gpt2",
):
    """Writes the tiny model; returns what a correct reader must find.

    Returns:
        A dict: `hf` (the float32 HF weights a converter should produce,
        quantised tensors as their dequantised values), `stored` (GGUF name
        -> float32 values as stored, q/k still permuted), `types`.
    """
    weights = hf_weights(tied=tied, seed=seed)
    writer = gguf.GGUFWriter(str(path), architecture)
    values = {
        "block_count": (CONFIG["layers"], "uint32"),
        "context_length": (CONFIG["context"], "uint32"),
        "embedding_length": (CONFIG["hidden"], "uint32"),
        "feed_forward_length": (CONFIG["ffn"], "uint32"),
        "attention.head_count": (CONFIG["heads"], "uint32"),
        "attention.head_count_kv": (CONFIG["kv_heads"], "uint32"),
        "rope.freq_base": (CONFIG["rope_theta"], "float32"),
        "attention.layer_norm_rms_epsilon": (CONFIG["eps"], "float32"),
        "vocab_size": (len(TOKENS), "uint32"),
        "rope.dimension_count": (
            CONFIG["hidden"] // CONFIG["heads"],
            "uint32",
        ),
    }
    for key, (value, kind) in values.items():
        if key not in drop_metadata:
            getattr(writer, f"add_{kind}")(f"{architecture}.{key}", value)
    writer.add_string("tokenizer.ggml.model", tokenizer_model)
    writer.add_array("tokenizer.ggml.tokens", TOKENS)
    writer.add_array("tokenizer.ggml.token_type", TOKEN_TYPES)
    writer.add_array("tokenizer.ggml.merges", MERGES)
    for role, value in (("bos", 1), ("eos", 2), ("unknown", 0), ("padding", 2)):
        writer.add_uint32(f"tokenizer.ggml.{role}_token_id", value)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_string("tokenizer.chat_template", TEMPLATE)
    for key, value in (metadata or {}).items():
        writer.add_string(key, value)

    expected, stored, types = {}, {}, {}
    for hf_name, weight in weights.items():
        name = gguf_name(hf_name)
        if name in drop_tensors:
            continue
        written = weight
        if name.endswith("attn_q.weight"):
            written = llama_cpp_permute(weight, CONFIG["heads"])
        elif name.endswith("attn_k.weight"):
            written = llama_cpp_permute(weight, CONFIG["kv_heads"])
        qtype = QUANTIZED.get(name, Q.F32)
        data = gguf.quants.quantize(written, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype)
        stored[name] = gguf.quants.dequantize(data, qtype).reshape(written.shape)
        # Rows quantise independently, so the permutation commutes.
        expected[hf_name] = gguf.quants.dequantize(
            gguf.quants.quantize(weight, qtype), qtype
        ).reshape(weight.shape)
        types[name] = qtype.name
    for name, value in (extra_tensors or {}).items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"hf": expected, "stored": stored, "types": types}
