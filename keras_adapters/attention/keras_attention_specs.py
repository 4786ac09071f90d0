"""Attention specs of Keras' `MultiHeadAttention` and the KerasHub layers built on it.

`keras_hub.layers.CachedMultiHeadAttention` (GPT-2, OPT...) subclasses it, so
this one record covers the BERT family's self-attention and the cached
decoder attention alike.
"""

import keras

from keras_adapters.attention.attention_spec import AttentionSpec
from keras_adapters.attention.registry import register_attention_spec


def _mha_kv_shape(layer):
    if getattr(layer, "_use_gate", False):
        raise ValueError(
            "Prefix tuning needs an ungated `keras.layers.MultiHeadAttention`. "
            f"Received: {layer.name!r} with use_gate=True"
        )
    return layer.num_heads, layer.key_dim, layer.value_dim or layer.key_dim


MULTI_HEAD_ATTENTION = register_attention_spec(
    AttentionSpec(
        attention_class=keras.layers.MultiHeadAttention,
        kv_shape=_mha_kv_shape,
        causal_argument="use_causal_mask",
        description="ungated `keras.layers.MultiHeadAttention`",
    )
)
