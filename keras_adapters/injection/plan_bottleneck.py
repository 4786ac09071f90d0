"""Where bottleneck adapters go: the sites their placement names, per block."""

from keras_adapters.injection.insertion import ChainInsertion
from keras_adapters.injection.insertion import Insertion
from keras_adapters.injection.insertion import scoped
from keras_adapters.layers.bottleneck_adapter import BottleneckAdapter
from keras_adapters.layers.dtype_policy import adapter_dtype_policy
from keras_adapters.layers.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.layers.post_norm_adapter_site import PostNormAdapterSite
from keras_adapters.layers.serial_adapter_site import SerialAdapterSite

SITE_WRAPPERS = {
    "attention_residual": SerialAdapterSite,
    "ffn_residual": SerialAdapterSite,
    "ffn_norm": PostNormAdapterSite,
    "ffn_chain": ParallelAdapterSite,
}


def plan_bottleneck(context, config, adapter_name):
    """Returns one `Insertion` per (block, site) of the placement."""
    spec = context.spec
    if "ffn_norm" in config.sites and spec.norm_position != "post":
        raise ValueError(
            f"The {config.method} placement re-applies the block's feed-forward LayerNorm, "
            f"which needs a post-LN block; {spec.name} is {spec.norm_position}-LN."
        )
    if "ffn_chain" in config.sites and not spec.ffn_chain:
        raise ValueError(
            f"The {config.method} placement needs a feed-forward branch that is a chain of "
            f"sublayers; the {spec.name} spec declares none (`ffn_chain`)."
        )
    bottleneck_dim = config.resolve_bottleneck_dim(context.hidden_dim)
    insertions = []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        for site in config.sites:
            location = f"{block.path}/{site}"
            first_slot = spec.ffn_chain[0] if site == "ffn_chain" else site
            owner, attribute = context.slot(block, first_slot)
            with scoped(location):
                module = BottleneckAdapter(
                    bottleneck_dim=bottleneck_dim,
                    activation=config.activation,
                    scaling=config.scaling,
                    dropout=config.dropout,
                    layer_norm=config.layer_norm,
                    dtype=adapter_dtype_policy(block.dtype_policy),
                    name=config.method,
                )
                module.build((None, None, context.hidden_dim))
            if site == "ffn_chain":
                chain_sites = [(s, *context.slot(block, s)) for s in spec.ffn_chain]
                insertions.append(
                    ChainInsertion(
                        location, owner, attribute, ParallelAdapterSite, module, chain_sites
                    )
                )
            else:
                insertions.append(Insertion(location, owner, attribute, SITE_WRAPPERS[site], module))
    return insertions
