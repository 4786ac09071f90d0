"""Where AdaLoRA goes: the projections `targets` selects, in LoRA's wrappers."""

import dataclasses

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.adalora.adalora_weights import AdaLoraWeights
from keras_adapters.methods.lora.lora_embedding import LoraEmbedding
from keras_adapters.methods.lora.plan_lora import LORA_WRAPPERS
from keras_adapters.planning.site import Site
from keras_adapters.planning.targets import check_single_merging_method, find_targets

# LoRA's ordered dispatch without embeddings: AdaLoRA adapts projections (as peft does).
ADALORA_WRAPPERS = tuple(
    (base, wrapper) for base, wrapper in LORA_WRAPPERS if wrapper is not LoraEmbedding
)


@dataclasses.dataclass
class AdaLoraSite(Site):
    """A `Site` that also knows how many matrices the adapter adapts.

    Attributes:
        num_matrices: sites of the adapter; the orthogonality regulariser is
            their mean.
    """

    num_matrices: int = 1


def adalora_wrapper_class(layer):
    """The wrapper for `layer`; a clear error for a layer AdaLoRA cannot adapt."""
    for base_class, wrapper_class in ADALORA_WRAPPERS:
        if isinstance(layer, base_class):
            return wrapper_class
    supported = ", ".join(f"keras.layers.{b.__name__}" for b, _ in ADALORA_WRAPPERS)
    raise ValueError(
        f"AdaLoRA supports {supported}. Layer {layer.path!r} is a {type(layer).__name__}; "
        "narrow `targets` or add it to `exclude`."
    )


def find_adalora_sites(context, config):
    """One site per projection matched by `config.targets`."""
    targets = find_targets(context, config, _is_projection)
    sites = []
    for owner, attribute, layer in targets:
        wrapper_class = adalora_wrapper_class(layer)
        check_single_merging_method(owner, layer, wrapper_class, "AdaLoRA")
        sites.append(AdaLoraSite(layer.path, owner, attribute, wrapper_class, layer, len(targets)))
    return sites


def build_adalora_module(config, site, context, name):
    """The `AdaLoraWeights` (`P`, `λ`, `Q`, mask) for one projection."""
    a_shape, b_shape = site.wrapper_class.lora_shapes_for(site.layer, config.init_rank)
    module = AdaLoraWeights(
        rank=config.init_rank,
        a_shape=a_shape,
        b_shape=b_shape,
        alpha=config.alpha,
        dropout=config.dropout,
        orthogonality=config.orthogonality / site.num_matrices,
        dtype=adapter_dtype_policy(site.layer.dtype_policy),
        name=name,
    )
    module.build()
    return module


def _is_projection(layer):
    return any(isinstance(layer, base) for base, _ in ADALORA_WRAPPERS)
