"""Switching, disabling, deleting and merging the adapters of a model."""

from keras_adapters.configs.prefix_config import PrefixConfig
from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.adapter_state import set_state
from keras_adapters.injection.add_adapter import sync_wrappers
from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.injection.insertion import scoped
from keras_adapters.injection.model_context import ModelContext
from keras_adapters.injection.trainability import apply_trainability
from keras_adapters.injection.trainability import restore_trainability
from keras_adapters.layers.layer_chain import LayerChain
from keras_adapters.layers.lora_wrapper import LoraWrapper
from keras_adapters.layers.parallel_adapter_site import ParallelAdapterSite
from keras_adapters.layers.prefix_attention import PrefixAttention
from keras_adapters.layers.tracking import set_sublayer


def _update(model, change):
    """Runs `change(context, state)` then re-syncs wrappers, trainability, compile."""
    state = require_state(model)
    context = ModelContext(model)
    trainable_before = [id(v) for v in model.trainable_weights]
    change(context, state)
    sync_wrappers(context, state)
    apply_trainability(context, state)
    refresh_compiled(model, trainable_before)


def _check_names(state, names, argument="adapter_names"):
    unknown = [n for n in names if n not in state.configs]
    if unknown or not names:
        raise ValueError(
            f"`{argument}` must name existing adapters {list(state.configs)}. "
            f"Received: {argument}={list(names)!r}"
        )


def _check_not_merged(state, action):
    if state.merged:
        raise ValueError(
            f"Cannot {action} while adapters {list(state.merged)} are merged into the base "
            "weights. Call `keras_adapters.unmerge_adapters(model)` first."
        )


def set_active_adapters(model, adapter_names):
    """Makes `adapter_names` (a name or a list) the adapters used and trained.

    Several active adapters combine, e.g. a Houlsby adapter with LoRA.

    Args:
        model: an adapted model.
        adapter_names: a name or a list of names.

    Example:
    ```python
    keras_adapters.set_active_adapters(classifier, ["bottleneck", "lora"])
    ```
    """
    names = (adapter_names,) if isinstance(adapter_names, str) else tuple(adapter_names)
    state = require_state(model)
    _check_names(state, names)
    _check_not_merged(state, "switch adapters")

    def change(context, state):
        state.active = names

    _update(model, change)


def disable_adapters(model):
    """Bypasses every adapter: the model computes exactly its base model.

    Example:
    ```python
    keras_adapters.disable_adapters(classifier)
    base_logits = classifier.predict(texts)
    keras_adapters.enable_adapters(classifier)
    ```
    """
    _check_not_merged(require_state(model), "disable adapters")

    def change(context, state):
        state.enabled = False

    _update(model, change)


def enable_adapters(model):
    """Undoes `keras_adapters.disable_adapters`."""

    def change(context, state):
        state.enabled = True

    _update(model, change)


def delete_adapter(model, adapter_name):
    """Removes an adapter and its weights; empty wrappers are unwrapped.

    When the last adapter goes, the model is back to its original layers,
    trainable flags and class.

    Example:
    ```python
    keras_adapters.delete_adapter(classifier, "old_task")
    ```
    """
    from keras_adapters.saving.adapted_model import make_plain

    state = require_state(model)
    _check_names(state, (adapter_name,), "adapter_name")
    if adapter_name in state.merged:
        _check_not_merged(state, f"delete {adapter_name!r}")
    context = ModelContext(model)
    trainable_before = [id(v) for v in model.trainable_weights]
    for owner, attribute, wrapper in list(context.wrappers()):
        if adapter_name not in wrapper.adapter_names:
            continue
        wrapper.remove_adapter(adapter_name)
        if not wrapper.adapter_names:
            _unwrap(context, owner, attribute, wrapper)
    del state.configs[adapter_name]
    state.active = tuple(n for n in state.active if n != adapter_name)
    if state.configs:
        sync_wrappers(context, state)
        apply_trainability(context, state)
    else:
        restore_trainability(model, state)
        set_state(model, None)
        make_plain(model)
    refresh_compiled(model, trainable_before)


def _unwrap(context, owner, attribute, wrapper):
    if isinstance(wrapper, ParallelAdapterSite) and isinstance(wrapper.base_layer, LayerChain):
        chain = wrapper.base_layer
        block = next(b for b in context.blocks if _contains(b, owner))
        for slot in chain.slots:
            slot_owner, slot_attribute = context.spec.slot_owner(block, slot)
            set_sublayer(slot_owner, slot_attribute, getattr(chain, slot))
        return
    set_sublayer(owner, attribute, wrapper.base_layer)


def _contains(block, layer):
    return layer is block or any(layer is sub for sub in block._flatten_layers())


def merge_adapters(model):
    """Adds the active LoRA updates to the base kernels (`W + scale * A B`).

    The LoRA branches are then skipped, so inference costs what the base
    model costs. Other active methods keep running as they are.

    Example:
    ```python
    keras_adapters.merge_adapters(classifier)
    classifier.export("served", format="tf_saved_model")
    ```
    """
    state = require_state(model)
    if not state.enabled:
        raise ValueError("Adapters are disabled; `enable_adapters(model)` before merging.")

    def change(context, state):
        merged = set()
        for _, _, wrapper in context.wrappers():
            if isinstance(wrapper, LoraWrapper):
                merged |= set(wrapper.merge())
        state.merged = tuple(n for n in state.active if n in merged or n in state.merged)

    _update(model, change)


def unmerge_adapters(model):
    """Subtracts merged LoRA updates from the base kernels again."""

    def change(context, state):
        for _, _, wrapper in context.wrappers():
            if isinstance(wrapper, LoraWrapper):
                wrapper.unmerge()
        state.merged = ()

    _update(model, change)


def eject_prefix(model, adapter_name):
    """Folds a reparameterised prefix adapter into plain prefixes.

    The MLP and embedding table are replaced by the prefixes they currently
    produce, so outputs are identical and the adapter file gets smaller.

    Example:
    ```python
    keras_adapters.eject_prefix(classifier, "prefix")
    ```
    """
    state = require_state(model)
    _check_names(state, (adapter_name,), "adapter_name")
    config = state.configs[adapter_name]
    if not isinstance(config, PrefixConfig) or not config.reparameterize:
        raise ValueError(
            "`adapter_name` must name a prefix adapter with `reparameterize=True`. "
            f"Received: adapter_name={adapter_name!r} ({config.method})"
        )

    def change(context, state):
        for _, _, wrapper in context.wrappers():
            if isinstance(wrapper, PrefixAttention) and adapter_name in wrapper.adapter_names:
                with scoped(wrapper.location):
                    plain = wrapper.get_adapter(adapter_name).folded()
                wrapper.remove_adapter(adapter_name)
                wrapper.add_adapter(adapter_name, plain)
        state.configs[adapter_name] = config.replace(reparameterize=False)

    _update(model, change)


def list_adapters(model):
    """Returns `{name: {"method", "active", "merged"}}` for the model's adapters."""
    state = require_state(model)
    active = set(state.active) if state.enabled else set()
    return {
        name: {"method": config.method, "active": name in active, "merged": name in state.merged}
        for name, config in state.configs.items()
    }
