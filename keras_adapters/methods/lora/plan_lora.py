"""Where LoRA goes: the projections `targets` selects, with the wrapper for each."""

import keras

from keras_adapters.core.dtype_policy import adapter_dtype_policy
from keras_adapters.methods.lora.lora_dense import LoraDense
from keras_adapters.methods.lora.lora_einsum_dense import LoraEinsumDense
from keras_adapters.methods.lora.lora_embedding import LoraEmbedding
from keras_adapters.methods.lora.lora_weights import LoraWeights
from keras_adapters.planning.site import Site
from keras_adapters.planning.targets import check_single_merging_method, find_targets

# Ordered dispatch: the first base class a layer is an instance of wins.
LORA_WRAPPERS = (
    (keras.layers.EinsumDense, LoraEinsumDense),
    (keras.layers.Embedding, LoraEmbedding),
    (keras.layers.Dense, LoraDense),
)


def lora_wrapper_class(layer):
    """The LoRA wrapper for `layer`; a clear error for a layer LoRA cannot adapt."""
    for base_class, wrapper_class in LORA_WRAPPERS:
        if isinstance(layer, base_class):
            return wrapper_class
    supported = ", ".join(f"keras.layers.{b.__name__}" for b, _ in LORA_WRAPPERS)
    raise ValueError(
        f"LoRA supports {supported}. Layer {layer.path!r} is a {type(layer).__name__}; "
        "narrow `targets` or add it to `exclude`."
    )


def find_lora_sites(context, config):
    """One site per projection matched by `config.targets`."""
    sites = []
    for owner, attribute, layer in find_targets(context, config, _is_projection):
        wrapper_class = lora_wrapper_class(layer)
        check_single_merging_method(owner, layer, wrapper_class, "LoRA")
        sites.append(Site(layer.path, owner, attribute, wrapper_class, layer))
    return sites


def build_lora_module(config, site, context, name):
    """The `LoraWeights` (`A`, `B`) for one projection."""
    a_shape, b_shape = site.wrapper_class.lora_shapes_for(site.layer, config.rank)
    module = LoraWeights(
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
    return module


def _is_projection(layer):
    return any(isinstance(layer, base) for base, _ in LORA_WRAPPERS)
