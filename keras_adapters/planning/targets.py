"""Target matching, shared by every method that adapts chosen layers.

Semantics (as in peft): a string is a regex that must match the whole
`layer.path`; a list entry is a slot name of the backbone spec (`"query"`,
`"ffn_output"`...) or a path that must equal the layer's path or end with
`"/" + entry`. The string `"all-linear"` means every projection slot the spec
defines (`keras_adapters.specs.PROJECTION_SLOTS`). A list entry naming a slot
of the vocabulary that the spec does not define is an error, never a suffix.
"""

import re

import keras

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.layer_chain import LayerChain
from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.planning.layer_tree import walk
from keras_adapters.specs.slots import PROJECTION_SLOTS, SLOTS

ALL_LINEAR = "all-linear"


def resolve_patterns(argument, patterns, spec):
    """Expands `"all-linear"` and checks slot names against `spec`."""
    if patterns is None:
        return None
    if patterns == ALL_LINEAR:
        return tuple(s for s in PROJECTION_SLOTS if spec.has_slot(s))
    if isinstance(patterns, str):
        return patterns
    missing = [entry for entry in patterns if entry in SLOTS and not spec.has_slot(entry)]
    if missing:
        raise ValueError(
            f"`{argument}` names the slots {missing}, which the {spec.name} spec does not "
            f"define. Slots of {spec.name}: {list(spec.slots)}. "
            f"Received: {argument}={describe(patterns)}"
        )
    return tuple(patterns)


def matches(path, patterns, slot_ids=None, layer_id=None):
    """Whether a layer (its path, and whether it fills a named slot) matches."""
    if patterns is None:
        return False
    if isinstance(patterns, str):
        return path is not None and re.fullmatch(patterns, path) is not None
    for entry in patterns:
        if entry in SLOTS:
            if slot_ids is not None and layer_id in slot_ids.get(entry, ()):
                return True
        elif path is not None and (path == entry or path.endswith("/" + entry)):
            return True
    return False


def find_targets(context, config, is_capable):
    """The layers of the chosen blocks that `config.targets` selects.

    Args:
        context: a `keras_adapters.planning.model_context.ModelContext`.
        config: a method config with `targets`, `exclude` and `layers`.
        is_capable: `layer -> bool`, whether the method can adapt a layer
            (used to list valid paths in the error when nothing matches).

    Returns:
        `[(owner, attribute, layer)]`, outer layers first.
    """
    spec = context.spec
    targets = resolve_patterns("targets", config.targets, spec)
    exclude = resolve_patterns("exclude", config.exclude, spec)
    candidates, available = [], []
    for index in context.block_indices(config.layers):
        block = context.blocks[index]
        slot_ids = block_slot_ids(context, block)
        for owner, attribute, layer in walk(block):
            if isinstance(layer, (AdapterWrapper, LayerChain)):
                continue
            if layer.path is None:  # no weights (dropout, softmax): only a named slot selects it
                _refuse_weightless_slot(layer, config, targets, exclude, slot_ids, spec)
                continue
            if is_capable(layer):
                available.append(layer.path)
            if matches(layer.path, targets, slot_ids, id(layer)) and not matches(
                layer.path, exclude, slot_ids, id(layer)
            ):
                candidates.append((owner, attribute, layer))
    if not candidates:
        outside = [
            layer
            for layer in context.root._flatten_layers()
            if layer.path and matches(layer.path, targets)
        ]
        raise no_match_error("targets", config.targets, available, outside, spec)
    return candidates


def _refuse_weightless_slot(layer, config, targets, exclude, slot_ids, spec):
    """A slot named in `targets` whose layer holds no weights is an error, never skipped."""
    if not matches(None, targets, slot_ids, id(layer)) or matches(
        None, exclude, slot_ids, id(layer)
    ):
        return
    slot = next(s for s in targets if s in SLOTS and id(layer) in slot_ids.get(s, ()))
    raise ValueError(
        f"`targets` names the slot {slot!r}, which in {spec.name} blocks is a "
        f"{type(layer).__name__} without weights: there is nothing to adapt. Remove it from "
        f"`targets`. Received: targets={describe(config.targets)}"
    )


def block_slot_ids(context, block):
    """`{slot: {id(layer)}}` for the layers filling the spec's slots in `block`.

    The form `matches` takes as `slot_ids`.
    """
    return {slot: {id(context.slot_layer(block, slot))} for slot in context.spec.slots}


def check_single_merging_method(owner, layer, wrapper_class, method):
    """Refuses a layer that a weight-merging wrapper of another class already wraps.

    Two methods that fold their updates into one kernel (LoRA, DoRA, IA3)
    would each merge against weights the other one changed, so a projection
    takes one such method; several adapters of that method share its wrapper.

    Args:
        owner: the layer holding `layer` (from `find_targets`).
        layer: the targeted layer.
        wrapper_class: the wrapper the method would put around `layer`.
        method: the method's name, for the message.
    """
    if isinstance(owner, MergeableWrapper) and not isinstance(owner, wrapper_class):
        raise ValueError(
            f"{method} cannot adapt {layer.path!r}: it is already wrapped by "
            f"{type(owner).__name__}, which merges another method into the same kernel. "
            "Give each method its own layers with `targets` / `exclude`."
        )


def describe(patterns):
    return repr(patterns) if isinstance(patterns, str) else repr(list(patterns))


def no_match_error(argument, patterns, available, outside=(), spec=None):
    """The error for patterns that select nothing, with a few valid paths."""
    shown = ", ".join(available[:8]) + (", ..." if len(available) > 8 else "")
    slots = list(spec.slots) if spec is not None else list(SLOTS)
    message = (
        f"`{argument}` matched no adapter-capable layer. Received: {argument}={describe(patterns)}. "
        f"Slots: {', '.join(slots)}. Some available paths: {shown or '(none)'}."
    )
    if outside:
        message += (
            f" It matches {', '.join(layer.path for layer in outside[:4])}, which are nodes of a "
            "functional graph (outside the transformer blocks) and cannot be swapped in place."
        )
        if any(isinstance(layer, keras.layers.Embedding) for layer in outside):
            message += (
                " Token embeddings are not adapted: in models that tie them to the output "
                "projection (Llama 3, Gemma, GPT-2...) the input and output uses would have to "
                "change together. Train the embedding itself with "
                "`modules_to_save=['token_embedding']`, or adapt the blocks."
            )
    return ValueError(message)
