"""Specs for backbones built from `keras_hub.layers.TransformerEncoder` blocks."""

import keras_hub

from keras_adapters.specs.backbone_spec import BackboneSpec
from keras_adapters.specs.registry import register_backbone_spec

TRANSFORMER_ENCODER_SLOTS = {
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
TRANSFORMER_ENCODER_FFN_CHAIN = ("ffn_intermediate", "ffn_output", "ffn_residual")

for _backbone in (
    keras_hub.models.BertBackbone,
    keras_hub.models.RobertaBackbone,
    keras_hub.models.DistilBertBackbone,
):
    register_backbone_spec(
        BackboneSpec(
            backbone_class=_backbone,
            blocks="transformer_layers",
            slots=TRANSFORMER_ENCODER_SLOTS,
            ffn_chain=TRANSFORMER_ENCODER_FFN_CHAIN,
            norm_position="post",
        )
    )
