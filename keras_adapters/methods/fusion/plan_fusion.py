"""Where AdapterFusion goes: every bottleneck site that holds all the fused adapters."""

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.bottleneck.bottleneck_adapter import BottleneckAdapter
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite
from keras_adapters.methods.bottleneck.tapped_parallel_site import TappedParallelSite
from keras_adapters.methods.fusion.fusion_layer import FusionLayer
from keras_adapters.planning.site import Site


def find_fusion_sites(context, config):
    """The sites whose wrapper holds a bottleneck module of every fused adapter."""
    blocks = {id(context.blocks[i]) for i in context.block_indices(config.layers)}
    found, seen = [], set()
    for owner, attribute, wrapper in context.wrappers():
        names = [n for n in config.adapters if n in wrapper.adapter_names]
        if not names:
            continue
        if not isinstance(wrapper, BottleneckSite) or not all(
            isinstance(wrapper.get_adapter(n), BottleneckAdapter) for n in names
        ):
            raise ValueError(
                f"AdapterFusion combines bottleneck adapters (Pfeiffer, Houlsby, parallel); "
                f"{names} at {wrapper.location!r} are not. Received: adapters={list(config.adapters)}"
            )
        if isinstance(wrapper, TappedParallelSite):
            raise ValueError(
                "AdapterFusion is not available for parallel adapters around a gated feed-forward "
                f"({wrapper.location!r}). Received: adapters={list(config.adapters)}"
            )
        seen.update(names)
        if len(names) == len(config.adapters) and id(context.block_of(wrapper)) in blocks:
            found.append(Site(wrapper.location, owner, attribute, type(wrapper), wrapper))
    missing = [n for n in config.adapters if n not in seen]
    if missing or not found:
        raise ValueError(
            f"AdapterFusion needs bottleneck adapters that share their sites; "
            f"{missing or list(config.adapters)} {'are not adapters of this model' if missing else 'share no site'}. "
            f"Received: adapters={list(config.adapters)}"
        )
    return found


def build_fusion_module(config, site, context, name):
    """A `FusionLayer` over the site's fused adapters, on the hidden size."""
    module = FusionLayer(
        config.adapters,
        temperature=config.temperature,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build((None, None, context.hidden_dim))
    return module
