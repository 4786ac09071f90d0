"""Specs for KerasHub's decoder-only LLM backbones (all pre-LN).

Three block layouts cover them:

- `keras_hub.layers.TransformerDecoder` (GPT-2, OPT): the encoder's sublayer
  names, norms before each sublayer, a feed-forward chain.
- Llama-style decoders (Llama, Llama 3, Mistral, Qwen, Qwen 3; Phi-3 with its
  own names): RMSNorm, rotary grouped-query attention, a gated SwiGLU
  feed-forward (`down(silu(gate(x)) * up(x))`), no feed-forward dropout, so
  the down projection is the last layer before the residual add.
- Gemma blocks (Gemma, Gemma 3): heads-first projections, a GeGLU
  feed-forward, and optional post-attention / post-FFN norms that follow the
  output projections, so the "residual" sites are the output projections.

GPT-NeoX has a fused query/key/value projection and a parallel residual.
OPT embeds tokens inside a `TokenAndPositionEmbedding` (`embeddings`), the
others with a `token_embedding` of their own.
"""

import keras_hub

from keras_adapters.specs.backbone_spec import BackboneSpec
from keras_adapters.specs.registry import register_backbone_spec

TRANSFORMER_DECODER_SLOTS = {
    "attention": "_self_attention_layer",
    "query": "_self_attention_layer._query_dense",
    "key": "_self_attention_layer._key_dense",
    "value": "_self_attention_layer._value_dense",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_residual": "_self_attention_dropout",
    "attention_norm": "_self_attention_layer_norm",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_residual": "_feedforward_dropout",
    "ffn_norm": "_feedforward_layer_norm",
}
TRANSFORMER_DECODER_FFN_CHAIN = ("ffn_intermediate", "ffn_output", "ffn_residual")

LLAMA_SLOTS = {
    "attention": "_self_attention_layer",
    "query": "_self_attention_layer._query_dense",
    "key": "_self_attention_layer._key_dense",
    "value": "_self_attention_layer._value_dense",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_residual": "_self_attention_dropout",
    "attention_norm": "_self_attention_layernorm",
    "ffn_gate": "_feedforward_gate_dense",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_residual": "_feedforward_output_dense",
    "ffn_norm": "_feedforward_layernorm",
}

PHI3_SLOTS = {
    "attention": "attention",
    "query": "attention.query_dense",
    "key": "attention.key_dense",
    "value": "attention.value_dense",
    "attention_output": "attention.output_dense",
    "attention_residual": "attention_dropout",
    "attention_norm": "pre_attention_layernorm",
    "ffn_gate": "feedforward_gate_dense",
    "ffn_intermediate": "feedforward_intermediate_dense",
    "ffn_output": "feedforward_output_dense",
    "ffn_residual": "feedforward_dropout",
    "ffn_norm": "post_attention_layernorm",
}

GEMMA_SLOTS = {
    "attention": "attention",
    "query": "attention.query_dense",
    "key": "attention.key_dense",
    "value": "attention.value_dense",
    "attention_output": "attention.output_dense",
    "attention_residual": "attention.output_dense",
    "attention_norm": "pre_attention_norm",
    "ffn_gate": "gating_ffw",
    "ffn_intermediate": "gating_ffw_2",
    "ffn_output": "ffw_linear",
    "ffn_residual": "ffw_linear",
    "ffn_norm": "pre_ffw_norm",
}

GPT_NEO_X_SLOTS = {
    "attention": "_self_attention_layer",
    "query_key_value": "_self_attention_layer._qkv_dense",
    "attention_output": "_self_attention_layer._output_dense",
    "attention_residual": "_self_attention_dropout",
    "attention_norm": "_self_attention_layer_norm",
    "ffn_intermediate": "_feedforward_intermediate_dense",
    "ffn_output": "_feedforward_output_dense",
    "ffn_residual": "_feedforward_output_dense",
    "ffn_norm": "_feedforward_layer_norm",
}

_DECODERS = (
    (keras_hub.models.GPT2Backbone, TRANSFORMER_DECODER_SLOTS, TRANSFORMER_DECODER_FFN_CHAIN),
    (keras_hub.models.OPTBackbone, TRANSFORMER_DECODER_SLOTS, TRANSFORMER_DECODER_FFN_CHAIN),
    (keras_hub.models.GPTNeoXBackbone, GPT_NEO_X_SLOTS, ("ffn_intermediate", "ffn_output")),
    (keras_hub.models.LlamaBackbone, LLAMA_SLOTS, ()),
    (keras_hub.models.Llama3Backbone, LLAMA_SLOTS, ()),
    (keras_hub.models.MistralBackbone, LLAMA_SLOTS, ()),
    (keras_hub.models.QwenBackbone, LLAMA_SLOTS, ()),
    (keras_hub.models.Qwen3Backbone, LLAMA_SLOTS, ()),
    (keras_hub.models.Phi3Backbone, PHI3_SLOTS, ()),
    (keras_hub.models.GemmaBackbone, GEMMA_SLOTS, ()),
    (keras_hub.models.Gemma3Backbone, GEMMA_SLOTS, ()),
)

_INSIDE_TOKEN_AND_POSITION_EMBEDDING = (keras_hub.models.OPTBackbone,)

for _backbone, _slots, _chain in _DECODERS:
    register_backbone_spec(
        BackboneSpec(
            backbone_class=_backbone,
            blocks="transformer_layers",
            slots=_slots,
            ffn_chain=_chain,
            norm_position="pre",
            token_embedding=(
                "embeddings.token_embedding"
                if _backbone in _INSIDE_TOKEN_AND_POSITION_EMBEDDING
                else "token_embedding"
            ),
        )
    )
