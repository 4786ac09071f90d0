"""Where prefix tuning goes: the self-attention layer of each targeted block."""

from keras_adapters.injection.insertion import Insertion
from keras_adapters.injection.insertion import scoped
from keras_adapters.injection.layer_tree import innermost
from keras_adapters.layers.dtype_policy import adapter_dtype_policy
from keras_adapters.layers.prefix_attention import PrefixAttention
from keras_adapters.layers.prefix_encoder import PrefixEncoder


def plan_prefix(context, config, adapter_name):
    """Returns one `Insertion` per targeted attention layer."""
    if context.spec.attention_kind != "keras_multi_head_attention":
        raise ValueError(
            f"Prefix tuning is not available for {context.spec.name} attention "
            f"({context.spec.attention_kind!r})."
        )
    insertions = []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        owner, attribute = context.slot(block, "attention")
        attention = innermost(getattr(owner, attribute))
        hidden_dim = innermost(attention._query_dense).kernel.shape[0]
        with scoped(attention.path):
            module = PrefixEncoder(
                num_prefix_tokens=config.num_prefix_tokens,
                num_heads=attention.num_heads,
                key_dim=attention.key_dim,
                value_dim=attention.value_dim or attention.key_dim,
                hidden_dim=hidden_dim,
                reparameterize=config.reparameterize,
                projection_dim=config.projection_dim,
                dtype=adapter_dtype_policy(attention.dtype_policy),
                name="prefix",
            )
            module.build()
        insertions.append(Insertion(attention.path, owner, attribute, PrefixAttention, module))
    return insertions
