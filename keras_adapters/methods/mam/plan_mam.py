"""Where a MAM adapter goes: the prefix sites and the parallel sites, one module each."""

from keras_adapters.methods.bottleneck.plan_bottleneck import (
    build_bottleneck_module,
    find_bottleneck_sites,
)
from keras_adapters.methods.prefix.plan_prefix import build_prefix_module, find_prefix_sites
from keras_adapters.methods.prefix.prefix_attention import PrefixAttention


def find_mam_sites(context, config):
    """Every attention layer's prefix site, then every block's parallel site."""
    return find_prefix_sites(context, config.prefix_part()) + find_bottleneck_sites(
        context, config.parallel_part()
    )


def build_mam_module(config, site, context, name):
    """A `PrefixEncoder` at attention sites, a scaled `BottleneckAdapter` elsewhere."""
    if site.wrapper_class is PrefixAttention:
        return build_prefix_module(config.prefix_part(), site, context, name)
    return build_bottleneck_module(config.parallel_part(), site, context, name)
