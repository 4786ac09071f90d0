"""`convert_gemma3_gguf`: a llama.cpp GGUF Gemma 3 as Gemma3Backbone weights."""

import json
import pathlib

import numpy as np

from keras_adapters.assets.gguf_tokenizer import sentencepiece_proto_from_gguf
from keras_adapters.assets.read_gguf import read_gguf

# GGUF name (per block: after `blk.N.`) -> (KerasHub variable path, layout).
GLOBAL_TENSOR_PATHS = {
    "token_embd.weight": ("token_embedding/embeddings", "copy"),
    "output_norm.weight": ("final_normalization/scale", "norm"),
}
BLOCK_TENSOR_PATHS = {
    "attn_norm.weight": ("pre_attention_norm/scale", "norm"),
    "attn_q.weight": ("attention/query/kernel", "heads_in"),
    "attn_k.weight": ("attention/key/kernel", "heads_in"),
    "attn_v.weight": ("attention/value/kernel", "heads_in"),
    "attn_q_norm.weight": ("attention/query_norm/scale", "norm"),
    "attn_k_norm.weight": ("attention/key_norm/scale", "norm"),
    "attn_output.weight": ("attention/attention_output/kernel", "heads_out"),
    "post_attention_norm.weight": ("post_attention_norm/scale", "norm"),
    "ffn_norm.weight": ("pre_ffw_norm/scale", "norm"),
    "ffn_gate.weight": ("ffw_gating/kernel", "transpose"),
    "ffn_up.weight": ("ffw_gating_2/kernel", "transpose"),
    "ffn_down.weight": ("ffw_linear/kernel", "transpose"),
    "post_ffw_norm.weight": ("post_ffw_norm/scale", "norm"),
}
# What `keras_hub.models.Gemma3Backbone` hard-codes and GGUF must agree with:
# every 6th layer global, the others sliding-window; rotary wavelengths.
KERAS_HUB_SLIDING_PATTERN = 6
KERAS_HUB_GLOBAL_ROPE = 1_000_000.0
KERAS_HUB_LOCAL_ROPE = 10_000.0
# llama.cpp scales queries by 1/sqrt(hidden/heads) for the 62-layer (27B)
# Gemma 3 and by 1/sqrt(head_dim) for every other size.
_LAYERS_SCALED_BY_HIDDEN = 62

GEMMA3_WEIGHTS_FILE = "gemma3_backbone.safetensors"
GEMMA3_CONFIG_FILE = "gemma3_backbone.json"
GEMMA3_TOKENIZER_FILE = "tokenizer.model"
GEMMA3_TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


def convert_gemma3_gguf(gguf_path, folder):
    """Writes a GGUF Gemma 3 text model as `Gemma3Backbone` files.

    Reads the GGUF with `keras_adapters.assets.read_gguf` (every tensor
    dequantised to float32, whatever its type: Q8_0, Q5_0, Q4_K, Q6_K...),
    derives the `keras_hub.models.Gemma3Backbone` arguments from the
    `gemma3.*` metadata (checking them against what KerasHub hard-codes),
    moves every tensor into KerasHub's layout and rebuilds the SentencePiece
    tokenizer from `tokenizer.ggml.*`. llama.cpp stores Gemma's RMSNorm
    weights as `1 + w` (it multiplies by the weight); KerasHub multiplies by
    `1 + scale`, so each norm scale is the stored value minus one.

    Files written: `gemma3_backbone.json` (the backbone arguments),
    `gemma3_backbone.safetensors` (float32 arrays keyed by KerasHub
    variable path, e.g. `decoder_block_0/attention/query/kernel`),
    `tokenizer.model` (SentencePiece) and `tokenizer_config.json`.

    Args:
        gguf_path: str or `os.PathLike`. The `.gguf` file.
        folder: str or `os.PathLike`. An existing, empty folder to write to.

    Returns:
        The `Gemma3Backbone` keyword arguments (dict).

    Example:
    ```python
    config = keras_adapters.assets.convert_gemma3_gguf("gemma.gguf", "out")
    backbone = keras_hub.models.Gemma3Backbone(**config)
    ```
    """
    from safetensors.numpy import save_file

    folder = pathlib.Path(folder)
    source = str(gguf_path)
    contents = read_gguf(gguf_path)
    config = gemma3_config_from_gguf(contents.metadata, set(contents.tensors), source)
    weights = gemma3_weights_from_gguf(contents.tensors, config, source)
    proto = sentencepiece_proto_from_gguf(contents.metadata, source)
    tokenizer_config = {
        "add_bos_token": bool(contents.metadata.get("tokenizer.ggml.add_bos_token", True)),
        "add_eos_token": bool(contents.metadata.get("tokenizer.ggml.add_eos_token", False)),
    }
    del contents
    save_file(weights, str(folder / GEMMA3_WEIGHTS_FILE), {"format": "np"})
    (folder / GEMMA3_TOKENIZER_FILE).write_bytes(proto)
    for name, value in (
        (GEMMA3_CONFIG_FILE, config),
        (GEMMA3_TOKENIZER_CONFIG_FILE, tokenizer_config),
    ):
        with open(folder / name, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1)
    return config


def gemma3_config_from_gguf(metadata, tensor_names, source="the GGUF file"):
    """`keras_hub.models.Gemma3Backbone` arguments from GGUF metadata.

    Args:
        metadata: dict. GGUF metadata, see `keras_adapters.assets.read_gguf`.
        tensor_names: set of str. The GGUF tensor names.
        source: str. Where the metadata came from, for error messages.

    Returns:
        A dict of `Gemma3Backbone` keyword arguments (text only).
    """
    architecture = metadata.get("general.architecture")
    if architecture != "gemma3":
        raise ValueError(
            f"Unsupported GGUF architecture in {source}. This converter "
            "reads ['gemma3']. "
            f"Received: general.architecture={architecture!r}"
        )

    def get(key, default=None):
        full = f"gemma3.{key}"
        if full not in metadata:
            if default is None:
                raise ValueError(
                    f"{source} lacks the metadata key `{full}`, needed for the model configuration."
                )
            return default
        return metadata[full]

    def require(key, value, expected, why):
        if value != expected:
            raise ValueError(
                f"{source}: `gemma3.{key}` must be {expected!r} ({why}). "
                f"Received: gemma3.{key}={value!r}"
            )

    head_dim = int(get("attention.key_length"))
    require(
        "attention.value_length",
        int(get("attention.value_length", head_dim)),
        head_dim,
        "Gemma3Backbone uses one head size for keys and values",
    )
    require(
        "rope.freq_base",
        float(get("rope.freq_base")),
        KERAS_HUB_GLOBAL_ROPE,
        "Gemma3Backbone's global layers use this rotary wavelength",
    )
    require(
        "rope.freq_base_swa",
        float(get("rope.freq_base_swa", KERAS_HUB_LOCAL_ROPE)),
        KERAS_HUB_LOCAL_ROPE,
        "Gemma3Backbone's sliding-window layers use this wavelength",
    )
    require(
        "attention.sliding_window_pattern",
        get("attention.sliding_window_pattern", KERAS_HUB_SLIDING_PATTERN),
        KERAS_HUB_SLIDING_PATTERN,
        "Gemma3Backbone makes every 6th layer global",
    )
    if metadata.get("gemma3.rope.scaling.type", "none") != "none":
        raise ValueError(
            f"{source} uses rope scaling "
            f"(`gemma3.rope.scaling.type`="
            f"{metadata['gemma3.rope.scaling.type']!r}); this converter "
            "supports Gemma 3 text models without it (270M, 1B)."
        )
    if "output.weight" in tensor_names:
        raise ValueError(
            f"{source} has an `output.weight` tensor, but Gemma3Backbone "
            "always ties the output projection to the token embedding."
        )
    num_layers = int(get("block_count"))
    window = int(get("attention.sliding_window", 0))
    tokens = metadata.get("tokenizer.ggml.tokens") or []
    return {
        "vocabulary_size": int(get("vocab_size", len(tokens) or None)),
        "image_size": None,
        "num_layers": num_layers,
        "num_query_heads": int(get("attention.head_count")),
        "num_key_value_heads": int(get("attention.head_count_kv")),
        "hidden_dim": int(get("embedding_length")),
        "intermediate_dim": int(get("feed_forward_length")),
        "head_dim": head_dim,
        "query_head_dim_normalize": num_layers != _LAYERS_SCALED_BY_HIDDEN,
        "use_query_key_norm": "blk.0.attn_q_norm.weight" in tensor_names,
        "use_post_ffw_norm": "blk.0.post_ffw_norm.weight" in tensor_names,
        "use_post_attention_norm": ("blk.0.post_attention_norm.weight" in tensor_names),
        "attention_logit_soft_cap": _optional_float(metadata.get("gemma3.attn_logit_softcapping")),
        "final_logit_soft_cap": _optional_float(metadata.get("gemma3.final_logit_softcapping")),
        "use_sliding_window_attention": window > 0,
        "sliding_window_size": window if window > 0 else 4096,
        "local_rope_scaling_factor": 1.0,
        "global_rope_scaling_factor": 1.0,
        # GGUF stores float32; its shortest decimal is the intended value.
        "layer_norm_epsilon": float(str(np.float32(get("attention.layer_norm_rms_epsilon")))),
    }


def gemma3_weights_from_gguf(tensors, config, source="the GGUF file"):
    """GGUF Gemma 3 tensors as `Gemma3Backbone` variables, by variable path.

    Args:
        tensors: dict of float32 arrays keyed by GGUF name.
        config: dict. From `gemma3_config_from_gguf`.
        source: str. Where the tensors came from, for error messages.

    Returns:
        A dict of float32 arrays keyed by KerasHub variable path.
    """
    hidden = config["hidden_dim"]
    heads = config["num_query_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = config["head_dim"]
    ffn = config["intermediate_dim"]
    gguf_shapes = {
        "token_embd.weight": (config["vocabulary_size"], hidden),
        "output_norm.weight": (hidden,),
    }
    block_shapes = {
        "attn_norm.weight": (hidden,),
        "attn_q.weight": (heads * head_dim, hidden),
        "attn_k.weight": (kv_heads * head_dim, hidden),
        "attn_v.weight": (kv_heads * head_dim, hidden),
        "attn_q_norm.weight": (head_dim,),
        "attn_k_norm.weight": (head_dim,),
        "attn_output.weight": (hidden, heads * head_dim),
        "post_attention_norm.weight": (hidden,),
        "ffn_norm.weight": (hidden,),
        "ffn_gate.weight": (ffn, hidden),
        "ffn_up.weight": (ffn, hidden),
        "ffn_down.weight": (hidden, ffn),
        "post_ffw_norm.weight": (hidden,),
    }
    targets = {name: (*GLOBAL_TENSOR_PATHS[name], shape) for name, shape in gguf_shapes.items()}
    for i in range(config["num_layers"]):
        for short, shape in block_shapes.items():
            path, layout = BLOCK_TENSOR_PATHS[short]
            targets[f"blk.{i}.{short}"] = (
                f"decoder_block_{i}/{path}",
                layout,
                shape,
            )
    missing = sorted(set(targets) - set(tensors))
    unexpected = sorted(set(tensors) - set(targets))
    if missing or unexpected:
        raise ValueError(
            f"The tensors of {source} do not match a "
            f"{config['num_layers']}-layer Gemma 3. Missing: "
            f"{_few(missing)}. Unexpected: {_few(unexpected)}."
        )
    weights = {}
    for name, (path, layout, shape) in targets.items():
        array = tensors[name]
        if array.shape != shape:
            raise ValueError(
                f"Tensor {name!r} of {source} must have the shape {shape} "
                f"for this config. Received: shape={array.shape}"
            )
        if layout == "norm":
            array = array - np.float32(1.0)
        elif layout == "heads_in":
            # (heads * head_dim, hidden) -> (heads, hidden, head_dim)
            array = array.reshape(-1, head_dim, hidden).transpose(0, 2, 1)
        elif layout == "heads_out":
            # (hidden, heads * head_dim) -> (heads, head_dim, hidden)
            array = array.T.reshape(heads, head_dim, hidden)
        elif layout == "transpose":
            array = array.T
        weights[path] = np.ascontiguousarray(array, dtype=np.float32)
    return weights


def _optional_float(value):
    return None if value is None else float(value)


def _few(names, limit=6):
    if len(names) <= limit:
        return names
    return names[:limit] + [f"... ({len(names) - limit} more)"]
