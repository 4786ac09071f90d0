"""Where DoRA goes: the projections `targets` selects, with the wrapper for each."""

import keras

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.dora.dora_dense import DoraDense
from keras_adapters.methods.dora.dora_einsum_dense import DoraEinsumDense
from keras_adapters.methods.dora.dora_weights import DoraWeights
from keras_adapters.planning.site import Site
from keras_adapters.planning.targets import check_single_merging_method, find_targets

# Ordered dispatch: the first base class a layer is an instance of wins.
DORA_WRAPPERS = (
    (keras.layers.EinsumDense, DoraEinsumDense),
    (keras.layers.Dense, DoraDense),
)


def dora_wrapper_class(layer):
    """The DoRA wrapper for `layer`; a clear error for a layer DoRA cannot adapt."""
    for base_class, wrapper_class in DORA_WRAPPERS:
        if isinstance(layer, base_class):
            return wrapper_class
    supported = ", ".join(f"keras.layers.{b.__name__}" for b, _ in DORA_WRAPPERS)
    raise ValueError(
        f"DoRA supports {supported}. Layer {layer.path!r} is a {type(layer).__name__}; "
        "narrow `targets` or add it to `exclude`."
    )


def find_dora_sites(context, config):
    """One site per projection matched by `config.targets`, each checked first."""
    sites = []
    for owner, attribute, layer in find_targets(context, config, _is_projection):
        wrapper_class = dora_wrapper_class(layer)
        check_single_merging_method(owner, layer, wrapper_class, "DoRA")
        wrapper_class.check_base(layer)
        sites.append(Site(layer.path, owner, attribute, wrapper_class, layer))
    return sites


def build_dora_module(config, site, context, name):
    """The `DoraWeights` (`A`, `B`, `m = ||W||`) for one projection."""
    a_shape, b_shape = site.wrapper_class.dora_shapes_for(site.layer, config.rank)
    module = DoraWeights(
        rank=config.rank,
        a_shape=a_shape,
        b_shape=b_shape,
        alpha=config.alpha,
        dropout=config.dropout,
        use_rslora=config.use_rslora,
        a_initializer=config.a_initializer,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build()
    module.magnitude.assign(site.wrapper_class.column_norms_for(site.layer))
    return module


def _is_projection(layer):
    return any(isinstance(layer, base) for base, _ in DORA_WRAPPERS)
