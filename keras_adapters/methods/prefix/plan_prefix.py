"""Where prefix tuning goes: the self-attention layer of each chosen block."""

from keras_adapters.attention.registry import get_attention_spec
from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.prefix.prefix_attention import PrefixAttention
from keras_adapters.methods.prefix.prefix_encoder import PrefixEncoder
from keras_adapters.planning.layer_tree import innermost
from keras_adapters.planning.site import Site


def find_prefix_sites(context, config):
    """One site per chosen block's attention layer (it must have an attention spec)."""
    context.spec.require_slots(["attention"], "Prefix tuning")
    sites = []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        owner, attribute = context.slot(block, "attention")
        attention = innermost(getattr(owner, attribute))
        get_attention_spec(attention, "Prefix tuning").kv_shape(attention)
        sites.append(Site(attention.path, owner, attribute, PrefixAttention, attention))
    return sites


def build_prefix_module(config, site, context, name):
    """The `PrefixEncoder` of one attention layer, shaped like its keys and values."""
    heads, key_dim, value_dim = get_attention_spec(site.layer).kv_shape(site.layer)
    module = PrefixEncoder(
        num_prefix_tokens=config.num_prefix_tokens,
        num_heads=heads,
        key_dim=key_dim,
        value_dim=value_dim,
        hidden_dim=context.hidden_dim,
        reparameterize=config.reparameterize,
        projection_dim=config.projection_dim,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build()
    return module
