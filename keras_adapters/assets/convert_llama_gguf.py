"""`convert_llama_gguf`: a llama.cpp GGUF Llama as a Hugging Face folder."""

import json
import pathlib

import numpy as np

from keras_adapters.assets.gguf_tokenizer import bpe_tokenizer_files
from keras_adapters.assets.read_gguf import read_gguf

# GGUF name (per block: after `blk.N.`) -> Hugging Face Llama name.
GLOBAL_TENSOR_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
BLOCK_TENSOR_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
SUPPORTED_ARCHITECTURES = ("llama",)


def convert_llama_gguf(gguf_path, folder):
    """Writes a GGUF Llama checkpoint as a Hugging Face Llama folder.

    Reads the GGUF with `keras_adapters.assets.read_gguf` (every tensor
    dequantised to float32), undoes llama.cpp's per-head row permutation of
    the query and key projections, renames the tensors to Hugging Face
    Llama names and writes `config.json` (from the `llama.*` metadata),
    `model.safetensors` (float32), `tokenizer.json` and
    `tokenizer_config.json` (with the chat template, when the GGUF has
    one). The folder loads with `keras_hub.models.Llama3Backbone.from_preset`
    given `layer_norm_epsilon=config["rms_norm_eps"]`: KerasHub's converter
    ignores `rms_norm_eps`.

    Args:
        gguf_path: str or `os.PathLike`. The `.gguf` file.
        folder: str or `os.PathLike`. An existing, empty folder to write to.

    Returns:
        The Hugging Face config dict written to `config.json`.

    Example:
    ```python
    config = keras_adapters.assets.convert_llama_gguf("model.gguf", "out")
    backbone = keras_hub.models.Llama3Backbone.from_preset(
        "out", layer_norm_epsilon=config["rms_norm_eps"]
    )
    ```
    """
    from safetensors.numpy import save_file

    folder = pathlib.Path(folder)
    source = str(gguf_path)
    contents = read_gguf(gguf_path)
    config = llama_config_from_gguf(contents.metadata, set(contents.tensors), source)
    weights = llama_weights_from_gguf(contents.tensors, config, source)
    tokenizer_json, tokenizer_config = bpe_tokenizer_files(
        contents.metadata, source, config["max_position_embeddings"]
    )
    del contents
    save_file(weights, str(folder / "model.safetensors"), {"format": "pt"})
    _write_json(folder / "config.json", config)
    _write_json(folder / "tokenizer.json", tokenizer_json)
    _write_json(folder / "tokenizer_config.json", tokenizer_config)
    return config


def llama_config_from_gguf(metadata, tensor_names, source="the GGUF file"):
    """The Hugging Face `LlamaConfig` dict described by GGUF metadata.

    Args:
        metadata: dict. GGUF metadata, see `keras_adapters.assets.read_gguf`.
        tensor_names: set of str. The GGUF tensor names (an `output.weight`
            means untied embeddings).
        source: str. Where the metadata came from, for error messages.

    Returns:
        A dict with `architectures`, `model_type` and the hyperparameters.
    """
    architecture = metadata.get("general.architecture")
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"Unsupported GGUF architecture in {source}. This converter "
            f"reads {list(SUPPORTED_ARCHITECTURES)}. "
            f"Received: general.architecture={architecture!r}"
        )

    def get(key, default=None):
        full = f"{architecture}.{key}"
        if full not in metadata:
            if default is None:
                raise ValueError(
                    f"{source} lacks the metadata key `{full}`, needed for the model configuration."
                )
            return default
        return metadata[full]

    for key in ("expert_count", "rope.scaling.type"):
        value = metadata.get(f"{architecture}.{key}")
        if value not in (None, 0, "none"):
            raise ValueError(
                f"{source} uses `{architecture}.{key}`={value!r}, which this "
                "converter does not support (plain Llama only: no mixture "
                "of experts, no rope scaling)."
            )
    if "rope_freqs.weight" in tensor_names:
        raise ValueError(
            f"{source} has a `rope_freqs.weight` tensor (scaled rope), "
            "which this converter does not support."
        )
    hidden = int(get("embedding_length"))
    heads = int(get("attention.head_count"))
    kv_heads = int(get("attention.head_count_kv", heads))
    if hidden % heads or heads % kv_heads:
        raise ValueError(
            f"{source}: `embedding_length` must be a multiple of "
            "`attention.head_count`, itself a multiple of "
            f"`attention.head_count_kv`. Received: {hidden}, {heads}, "
            f"{kv_heads}"
        )
    head_dim = hidden // heads
    rope_dim = int(get("rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise ValueError(
            f"{source}: rotary embeddings must cover the whole head "
            f"(`rope.dimension_count` == {head_dim}). Received: "
            f"rope.dimension_count={rope_dim}"
        )
    tokens = metadata.get("tokenizer.ggml.tokens") or []
    vocab_size = int(get("vocab_size", len(tokens) or None))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": int(get("feed_forward_length")),
        "num_hidden_layers": int(get("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": int(get("context_length")),
        # GGUF stores float32; its shortest decimal is the intended value.
        "rms_norm_eps": _float32(get("attention.layer_norm_rms_epsilon")),
        "rope_theta": _float32(get("rope.freq_base", 10000.0)),
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": "output.weight" not in tensor_names,
        "torch_dtype": "float32",
    }
    for role in ("bos", "eos"):
        key = f"tokenizer.ggml.{role}_token_id"
        if key in metadata:
            config[f"{role}_token_id"] = int(metadata[key])
    return config


def llama_weights_from_gguf(tensors, config, source="the GGUF file"):
    """GGUF Llama tensors as Hugging Face Llama weights.

    Renames every tensor (see `GLOBAL_TENSOR_NAMES`, `BLOCK_TENSOR_NAMES`),
    undoes the q/k row permutation with `unpermute_rotary_rows` and checks
    every shape against `config`. A missing or unexpected tensor is an
    error, so nothing is silently dropped.

    Args:
        tensors: dict of float32 arrays keyed by GGUF name.
        config: dict. From `llama_config_from_gguf`.
        source: str. Where the tensors came from, for error messages.

    Returns:
        A dict of float32 arrays keyed by Hugging Face name.
    """
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = config["head_dim"]
    ffn = config["intermediate_size"]
    vocab = config["vocab_size"]
    shapes = {
        "token_embd.weight": (vocab, hidden),
        "output_norm.weight": (hidden,),
    }
    if not config["tie_word_embeddings"]:
        shapes["output.weight"] = (vocab, hidden)
    block_shapes = {
        "attn_norm.weight": (hidden,),
        "attn_q.weight": (heads * head_dim, hidden),
        "attn_k.weight": (kv_heads * head_dim, hidden),
        "attn_v.weight": (kv_heads * head_dim, hidden),
        "attn_output.weight": (hidden, heads * head_dim),
        "ffn_norm.weight": (hidden,),
        "ffn_gate.weight": (ffn, hidden),
        "ffn_up.weight": (ffn, hidden),
        "ffn_down.weight": (hidden, ffn),
    }
    names = {}
    for name, shape in shapes.items():
        names[name] = (GLOBAL_TENSOR_NAMES[name], shape)
    for i in range(config["num_hidden_layers"]):
        for short, shape in block_shapes.items():
            hf_name = f"model.layers.{i}.{BLOCK_TENSOR_NAMES[short]}"
            names[f"blk.{i}.{short}"] = (hf_name, shape)
    missing = sorted(set(names) - set(tensors))
    unexpected = sorted(set(tensors) - set(names))
    if missing or unexpected:
        raise ValueError(
            f"The tensors of {source} do not match a "
            f"{config['num_hidden_layers']}-layer Llama. Missing: "
            f"{_few(missing)}. Unexpected: {_few(unexpected)}."
        )
    weights = {}
    for name, (hf_name, shape) in names.items():
        array = tensors[name]
        if array.shape != shape:
            raise ValueError(
                f"Tensor {name!r} of {source} must have the shape {shape} "
                f"for this config. Received: shape={array.shape}"
            )
        if name.endswith("attn_q.weight"):
            array = unpermute_rotary_rows(array, heads)
        elif name.endswith("attn_k.weight"):
            array = unpermute_rotary_rows(array, kv_heads)
        weights[hf_name] = np.ascontiguousarray(array, dtype=np.float32)
    return weights


def unpermute_rotary_rows(weight, num_heads):
    """Undoes llama.cpp's per-head row order of a q or k projection.

    Hugging Face Llama rotates the two halves of each head (`rotate_half`);
    llama.cpp rotates adjacent pairs, so its converter reorders the rows of
    each head from `[x0..x(d/2-1), y0..y(d/2-1)]` to `[x0, y0, x1, y1, ...]`.
    This puts them back.

    Args:
        weight: array of shape `(num_heads * head_dim, in_features)`.
        num_heads: int. Query heads for q, key/value heads for k.

    Returns:
        The array with the Hugging Face row order, same shape.
    """
    rows = weight.shape[0]
    if rows % (2 * num_heads):
        raise ValueError(
            f"A q/k projection must have a multiple of 2 * num_heads = "
            f"{2 * num_heads} rows. Received: shape={weight.shape}"
        )
    half = rows // num_heads // 2
    return (
        weight.reshape(num_heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def _float32(value):
    return float(str(np.float32(value)))


def _few(names, limit=6):
    if len(names) <= limit:
        return names
    return names[:limit] + [f"... ({len(names) - limit} more)"]


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
