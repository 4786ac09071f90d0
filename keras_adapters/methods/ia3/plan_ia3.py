"""Where IA3 goes: the projections `targets` selects, each scaling its input or output."""

import keras

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.ia3.ia3_dense import IA3Dense
from keras_adapters.methods.ia3.ia3_einsum_dense import IA3EinsumDense
from keras_adapters.methods.ia3.ia3_site import IA3Site
from keras_adapters.methods.ia3.ia3_vector import IA3Vector
from keras_adapters.planning.targets import (
    block_slot_ids,
    check_single_merging_method,
    describe,
    find_targets,
    matches,
    resolve_patterns,
)

# Ordered dispatch: the first base class a layer is an instance of wins.
IA3_WRAPPERS = (
    (keras.layers.EinsumDense, IA3EinsumDense),
    (keras.layers.Dense, IA3Dense),
)


def ia3_wrapper_class(layer):
    """The IA3 wrapper for `layer`; a clear error for a layer IA3 cannot scale."""
    for base_class, wrapper_class in IA3_WRAPPERS:
        if isinstance(layer, base_class):
            return wrapper_class
    supported = ", ".join(f"keras.layers.{b.__name__}" for b, _ in IA3_WRAPPERS)
    raise ValueError(
        f"IA3 supports {supported}. Layer {layer.path!r} is a {type(layer).__name__}; "
        "narrow `targets` or add it to `exclude`."
    )


def find_ia3_sites(context, config):
    """One site per projection matched by `config.targets`, input-scaled if feedforward."""
    targets = find_targets(context, config, _is_projection)
    feedforward = resolve_patterns("feedforward", config.feedforward or None, context.spec)
    slot_ids = {}
    for index in context.block_indices(config.layers):
        for slot, ids in block_slot_ids(context, context.blocks[index]).items():
            slot_ids.setdefault(slot, set()).update(ids)
    sites = []
    for owner, attribute, layer in targets:
        wrapper_class = ia3_wrapper_class(layer)
        check_single_merging_method(owner, layer, wrapper_class, "IA3")
        is_feedforward = matches(layer.path, feedforward, slot_ids, id(layer))
        try:
            wrapper_class.check_scalable(layer, is_feedforward)
        except ValueError as error:
            raise ValueError(
                f"IA3 cannot scale the {'input' if is_feedforward else 'output'} of "
                f"{layer.path!r}: {error} Received: targets={describe(config.targets)}, "
                f"feedforward={describe(config.feedforward)}"
            ) from None
        sites.append(
            IA3Site(layer.path, owner, attribute, wrapper_class, layer, feedforward=is_feedforward)
        )
    return sites


def build_ia3_module(config, site, context, name):
    """The `IA3Vector` (ones) for one projection."""
    module = IA3Vector(
        site.wrapper_class.scale_shape_for(site.layer, site.feedforward),
        feedforward=site.feedforward,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build()
    return module


def _is_projection(layer):
    return any(isinstance(layer, base) for base, _ in IA3_WRAPPERS)
