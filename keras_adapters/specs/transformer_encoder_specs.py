"""Specs for encoders built from KerasHub `TransformerEncoder`-style blocks.

BERT, RoBERTa, DistilBERT, XLM-RoBERTa, ELECTRA and ALBERT use
`keras_hub.layers.TransformerEncoder` (post-LN); DeBERTa-v3's
`DisentangledAttentionEncoder` keeps the same sublayer names. RoBERTa,
XLM-RoBERTa and DistilBERT embed tokens inside a `TokenAndPositionEmbedding`
(`embeddings`), the others with a `token_embedding` of their own. ALBERT lists its
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

for _backbone, _token_embedding in (
    (keras_hub.models.BertBackbone, "token_embedding"),
    (keras_hub.models.RobertaBackbone, "embeddings.token_embedding"),
    (keras_hub.models.DistilBertBackbone, "embeddings.token_embedding"),
    (keras_hub.models.XLMRobertaBackbone, "embeddings.token_embedding"),
    (keras_hub.models.ElectraBackbone, "token_embedding"),
    (keras_hub.models.AlbertBackbone, "token_embedding"),
    (keras_hub.models.DebertaV3Backbone, "token_embedding"),
):
    register_backbone_spec(
        BackboneSpec(
            backbone_class=_backbone,
            blocks="transformer_layers",
            slots=TRANSFORMER_ENCODER_SLOTS,
            ffn_chain=TRANSFORMER_ENCODER_FFN_CHAIN,
            norm_position="post",
            token_embedding=_token_embedding,
        )
    )
