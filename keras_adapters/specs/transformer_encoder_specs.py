"""Specs for encoders built from KerasHub `TransformerEncoder`-style blocks.

BERT, RoBERTa, DistilBERT, XLM-RoBERTa, ELECTRA and ALBERT use
`keras_hub.layers.TransformerEncoder` (post-LN); DeBERTa-v3's
`DisentangledAttentionEncoder` keeps the same sublayer names. ALBERT lists its
blocks in groups that are called several times, so an adapter in an ALBERT
block is shared across the depth that reuses it, like the block's weights.
"""

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
    keras_hub.models.XLMRobertaBackbone,
    keras_hub.models.ElectraBackbone,
    keras_hub.models.AlbertBackbone,
    keras_hub.models.DebertaV3Backbone,
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
