"""Where bottleneck adapters go: the sites of their placement, in every chosen block."""

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.bottleneck.bottleneck_adapter import BottleneckAdapter
from keras_adapters.methods.bottleneck.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.methods.bottleneck.post_norm_adapter_site import PostNormAdapterSite
from keras_adapters.methods.bottleneck.serial_adapter_site import SerialAdapterSite
from keras_adapters.methods.bottleneck.tap_site import TapSite
from keras_adapters.methods.bottleneck.tapped_parallel_site import TappedParallelSite
from keras_adapters.planning.chain_site import ChainSite
from keras_adapters.planning.site import Site
from keras_adapters.specs.bottleneck_placements import bottleneck_sites

SITE_WRAPPERS = {
    "serial": SerialAdapterSite,
    "post_norm": PostNormAdapterSite,
    "parallel": ParallelAdapterSite,
    "parallel_tap": TappedParallelSite,
}


def find_bottleneck_sites(context, config):
    """One site per (block, site of the placement); checks the width first."""
    placement = bottleneck_sites(config.method, context.spec)
    config.resolve_bottleneck_dim(context.hidden_dim)
    sites = []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        for site in placement:
            location = f"{block.path}/{site.name}"
            wrapper_class = SITE_WRAPPERS[site.kind]
            if site.kind == "parallel":
                chain = [(slot, *context.slot(block, slot)) for slot in context.spec.ffn_chain]
                _, owner, attribute = chain[0]
                sites.append(ChainSite(location, owner, attribute, wrapper_class, block, chain))
            elif site.kind == "parallel_tap":
                owner, attribute = context.slot(block, site.slot)
                reader = context.slot(block, site.reads)
                reader_location = f"{block.path}/{site.name}_input"
                sites.append(
                    TapSite(
                        location, owner, attribute, wrapper_class, block, reader, reader_location
                    )
                )
            else:
                owner, attribute = context.slot(block, site.slot)
                sites.append(Site(location, owner, attribute, wrapper_class, block))
    return sites


def build_bottleneck_module(config, site, context, name):
    """The `BottleneckAdapter` for one site, built on the backbone's hidden size."""
    module = BottleneckAdapter(
        bottleneck_dim=config.resolve_bottleneck_dim(context.hidden_dim),
        activation=config.activation,
        scaling=config.scaling,
        dropout=config.dropout,
        layer_norm=config.layer_norm,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build((None, None, context.hidden_dim))
    return module
