"""Attention specs of KerasHub's decoder attention layers (rotary, grouped-query, cached).

Every one of them projects queries, keys and values, applies its rotary
embedding, writes keys and values into the cache when generating, and then
calls `_compute_attention(query, key, value, mask, ...)`; only the argument
names, whether key/value heads are repeated to the query heads before that
call, and how a sliding window is applied differ. Where `_compute_attention`
applies a sliding window itself, the window is applied to the real keys'
mask first and switched off while the prefixed keys are attended, so the
prefixes stay visible to every query and the window keeps its width.
"""

from keras_hub.src.models.gemma.gemma_attention import CachedGemmaAttention
from keras_hub.src.models.gemma3.gemma3_attention import CachedGemma3Attention
from keras_hub.src.models.gpt_neo_x.gpt_neo_x_attention import GPTNeoXAttention
from keras_hub.src.models.llama.llama_attention import LlamaAttention
from keras_hub.src.models.mistral.mistral_attention import CachedMistralAttention
from keras_hub.src.models.phi3.phi3_attention import Phi3Attention
from keras_hub.src.models.qwen.qwen_attention import QwenAttention
from keras_hub.src.models.qwen3.qwen3_attention import Qwen3Attention

from keras_adapters.attention.attention_spec import AttentionSpec
from keras_adapters.attention.registry import register_attention_spec
from keras_adapters.core.adapter_wrapper import AdapterWrapper


def _unwrapped(layer):
    while isinstance(layer, AdapterWrapper):
        layer = layer.base_layer
    return layer


def _kv_shape_of(key_attribute, value_attribute):
    """`layer -> (kv_heads, key_dim, value_dim)` from the key/value EinsumDense output shapes."""

    def kv_shape(layer):
        heads, key_dim = _unwrapped(getattr(layer, key_attribute)).partial_output_shape[-2:]
        _, value_dim = _unwrapped(getattr(layer, value_attribute)).partial_output_shape[-2:]
        return heads, key_dim, value_dim

    return kv_shape


def _query_groups(layer):
    return layer.num_query_heads // layer.num_key_value_heads


def _sliding_window(flag, off):
    """A `prepare` that applies the layer's own window to the real keys, then switches it off."""

    def prepare(layer, mask, arguments):
        if mask is None or not getattr(layer, flag):
            return mask, {}
        index = arguments.get("cache_update_index")
        index = 0 if index is None else index
        return layer._mask_sliding_window(mask, cache_update_index=index), {flag: off}

    return prepare


def _neo_x_kv_shape(layer):
    return layer.num_heads, layer.attn_head_size, layer.attn_head_size


_LLAMA_STYLE = _kv_shape_of("_key_dense", "_value_dense")
_UNPREFIXED_NAMES = _kv_shape_of("key_dense", "value_dense")

for _spec in (
    AttentionSpec(LlamaAttention, _LLAMA_STYLE, kv_repeats=_query_groups),
    AttentionSpec(
        CachedMistralAttention,
        _LLAMA_STYLE,
        kv_repeats=lambda layer: layer._num_key_value_groups,
    ),
    AttentionSpec(
        QwenAttention,
        _LLAMA_STYLE,
        kv_repeats=_query_groups,
        prepare=_sliding_window("use_sliding_window_attention", False),
    ),
    AttentionSpec(
        Qwen3Attention,
        _LLAMA_STYLE,
        kv_repeats=_query_groups,
        prepare=_sliding_window("sliding_window_size", None),
    ),
    AttentionSpec(Phi3Attention, _UNPREFIXED_NAMES, kv_repeats=_query_groups),
    AttentionSpec(
        CachedGemmaAttention,
        _UNPREFIXED_NAMES,
        arguments=("q", "k", "v", "attention_mask"),
        prepare=_sliding_window("use_sliding_window_attention", False),
    ),
    AttentionSpec(
        CachedGemma3Attention,
        _UNPREFIXED_NAMES,
        arguments=("q", "k", "v", "attention_mask"),
        prepare=_sliding_window("use_sliding_window_attention", False),
    ),
    AttentionSpec(GPTNeoXAttention, _neo_x_kv_shape),
):
    register_attention_spec(_spec)
