"""Reads one KerasHub decoder block's weights as the plain matrices the NumPy references use."""

import numpy as np

from tests.support.kernel_layouts import as_matrix

# --------------------------------------------------------------------------- reading Keras blocks

# slot -> attribute path in the block, per block layout. Norms are read as
# `{"scale"}` or `{"gamma", "beta"}`.
_TRANSFORMER_DECODER = {
    "query": "_self_attention_layer._query_dense",
    "key": "_self_attention_layer._key_dense",
    "value": "_self_attention_layer._value_dense",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_norm": "_self_attention_layer_norm",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_norm": "_feedforward_layer_norm",
}
_GPT_NEO_X = {
    "query_key_value": "_self_attention_layer._qkv_dense",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_norm": "_self_attention_layer_norm",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_norm": "_feedforward_layer_norm",
}
_LLAMA = {
    "query": "_self_attention_layer._query_dense",
    "key": "_self_attention_layer._key_dense",
    "value": "_self_attention_layer._value_dense",
    "query_norm": "_self_attention_layer._query_dense_layer_norm",
    "key_norm": "_self_attention_layer._key_dense_layer_norm",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_norm": "_self_attention_layernorm",
    "ffn_gate": "_feedforward_gate_dense",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_norm": "_feedforward_layernorm",
}
_PHI3 = {
    "query": "attention.query_dense",
    "key": "attention.key_dense",
    "value": "attention.value_dense",
    "attention_output": "attention.output_dense",
    "attention_norm": "pre_attention_layernorm",
    "ffn_gate": "feedforward_gate_dense",
    "ffn_intermediate": "feedforward_intermediate_dense",
    "ffn_output": "feedforward_output_dense",
    "ffn_norm": "post_attention_layernorm",
}
_GEMMA = {
    "query": "attention.query_dense",
    "key": "attention.key_dense",
    "value": "attention.value_dense",
    "query_norm": "attention.query_norm",
    "key_norm": "attention.key_norm",
    "attention_output": "attention.output_dense",
    "attention_norm": "pre_attention_norm",
    "post_attention_norm": "post_attention_norm",
    "ffn_gate": "gating_ffw",
    "ffn_intermediate": "gating_ffw_2",
    "ffn_output": "ffw_linear",
    "ffn_norm": "pre_ffw_norm",
    "post_ffw_norm": "post_ffw_norm",
}
BLOCK_LAYOUTS = {
    "gpt2": _TRANSFORMER_DECODER,
    "opt": _TRANSFORMER_DECODER,
    "gpt_neo_x": _GPT_NEO_X,
    "llama": _LLAMA,
    "llama3": _LLAMA,
    "mistral": _LLAMA,
    "qwen": _LLAMA,
    "qwen3": _LLAMA,
    "phi3": _PHI3,
    "gemma": _GEMMA,
    "gemma3": _GEMMA,
}


def read_block_weights(family, block):
    """Base weights of an unadapted KerasHub block as `{slot: {"kernel"/"bias"/"scale"/...}}`.

    Kernels become matrices `[in features, out features]`, features
    flattened in the order of the layer's input and output tensors; each
    projection also records its layer's `path` and einsum `equation` (to
    find and read its LoRA factors).
    """
    weights = {}
    for slot, path in BLOCK_LAYOUTS[family].items():
        layer = block
        for attribute in path.split("."):
            layer = getattr(layer, attribute, None)
        if layer is None or (slot.startswith("post_") and not _used_post_norm(block, slot)):
            continue
        if hasattr(layer, "kernel"):
            kernel = np.asarray(layer.kernel.numpy(), "float64")
            bias = getattr(layer, "bias", None)
            equation = getattr(layer, "equation", None)
            weights[slot] = {
                "kernel": as_matrix(kernel, equation),
                "bias": None if bias is None else np.asarray(bias.numpy(), "float64").reshape(-1),
                "equation": equation,
                "path": layer.path,
            }
        else:
            weights[slot] = {v.name: np.asarray(v.numpy(), "float64") for v in layer.weights}
    return weights


def _used_post_norm(block, slot):
    return getattr(block, f"use_{slot}", False)
