"""Where LoRA goes: matched projections inside the backbone's blocks."""

import keras

from keras_adapters.injection.insertion import Insertion
from keras_adapters.injection.insertion import scoped
from keras_adapters.injection.layer_tree import walk
from keras_adapters.injection.targets import matches
from keras_adapters.injection.targets import no_match_error
from keras_adapters.layers.adapter_wrapper import AdapterWrapper
from keras_adapters.layers.dtype_policy import adapter_dtype_policy
from keras_adapters.layers.layer_chain import LayerChain
from keras_adapters.layers.lora_einsum_dense import LoraDense
from keras_adapters.layers.lora_einsum_dense import LoraEinsumDense
from keras_adapters.layers.lora_embedding import LoraEmbedding
from keras_adapters.layers.lora_weights import LoraWeights
from keras_adapters.layers.lora_wrapper import LoraWrapper
from keras_adapters.specs.backbone_spec import SLOTS

# Ordered dispatch: the first base class a layer is an instance of wins.
LORA_WRAPPERS = (
    (keras.layers.EinsumDense, LoraEinsumDense),
    (keras.layers.Embedding, LoraEmbedding),
    (keras.layers.Dense, LoraDense),
)


def lora_wrapper_class(layer):
    for base_class, wrapper_class in LORA_WRAPPERS:
        if isinstance(layer, base_class):
            return wrapper_class
    supported = ", ".join(f"keras.layers.{b.__name__}" for b, _ in LORA_WRAPPERS)
    raise ValueError(
        f"LoRA supports {supported}. Layer {layer.path!r} is a {type(layer).__name__}; "
        "narrow `targets` or add it to `exclude`."
    )


def plan_lora(context, config, adapter_name):
    """Returns one `Insertion` per projection matched by `config.targets`."""
    candidates, available = [], []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        slot_ids = {slot: {id(context.slot_layer(block, slot))} for slot in SLOTS}
        sites = {}
        for owner, attribute, layer in walk(block):
            sites[id(layer)] = (owner, attribute)
            if isinstance(layer, (AdapterWrapper, LayerChain)) or layer.path is None:
                continue
            if _is_projection(layer):
                available.append(layer.path)
            if not matches(layer.path, config.targets, slot_ids, id(layer)):
                continue
            if matches(layer.path, config.exclude, slot_ids, id(layer)):
                continue
            if isinstance(owner, LoraWrapper) and attribute == "base_layer":
                owner, attribute = sites[id(owner)]
            candidates.append((owner, attribute, layer))
    if not candidates:
        outside = [
            layer.path
            for layer in context.root._flatten_layers()
            if layer.path and matches(layer.path, config.targets)
        ]
        raise no_match_error("targets", config.targets, available, outside)
    return [_insertion(owner, attribute, layer, config) for owner, attribute, layer in candidates]


def _is_projection(layer):
    return any(isinstance(layer, base) for base, _ in LORA_WRAPPERS)


def _insertion(owner, attribute, layer, config):
    wrapper_class = lora_wrapper_class(layer)
    a_shape, b_shape = wrapper_class.lora_shapes_for(layer, config.rank)
    with scoped(layer.path):
        module = LoraWeights(
            rank=config.rank,
            a_shape=a_shape,
            b_shape=b_shape,
            alpha=config.alpha,
            dropout=config.dropout,
            use_rslora=config.use_rslora,
            a_initializer=config.a_initializer,
            dtype=adapter_dtype_policy(layer.dtype_policy),
            name="lora",
        )
        module.build()
    return Insertion(layer.path, owner, attribute, wrapper_class, module)
