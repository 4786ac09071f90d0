"""Switching, disabling, deleting and merging the adapters of a model."""

from keras_adapters.core.layer_chain import LayerChain
from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.core.stack import Stack
from keras_adapters.core.tracking import set_sublayer
from keras_adapters.injection.adapted_model import make_plain
from keras_adapters.injection.adapter_state import require_state, set_state
from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.injection.trainability import restore_trainability
from keras_adapters.injection.wrapper_sync import refresh
from keras_adapters.planning.adapter_scope import adapter_scope
from keras_adapters.planning.model_context import ModelContext


def _update(model, change):
    """Runs `change(context, state)` then re-syncs wrappers, trainability, compile."""
    state = require_state(model)
    context = ModelContext(model)
    trainable_before = [id(v) for v in model.trainable_weights]
    change(context, state)
    refresh(context, state, trainable_before)


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


def set_active_adapters(model, adapter_names, train=None):
    """Makes `adapter_names` the adapters used, and `train` (default: all of them) trained.

    Several active adapters combine, e.g. a Houlsby adapter with LoRA; where
    they share a site, each reads the site's input and their outputs add up.
    A `keras_adapters.Stack` applies them one after the other instead. With
    `train`, the other active adapters are used but stay frozen (two-stage
    training: a frozen language adapter under a trained task adapter).

    Args:
        model: an adapted model.
        adapter_names: a name, a list of names, or a `keras_adapters.Stack`.
        train: names among `adapter_names` whose weights train; `None` for all.

    Example:
    ```python
    keras_adapters.set_active_adapters(classifier, ["bottleneck", "lora"])
    keras_adapters.set_active_adapters(
        classifier, keras_adapters.Stack("language", "task"), train=["task"]
    )
    ```
    """
    names = (adapter_names,) if isinstance(adapter_names, str) else tuple(adapter_names)
    composition = "stack" if isinstance(adapter_names, Stack) else "parallel"
    state = require_state(model)
    _check_names(state, names)
    trained = names if train is None else ((train,) if isinstance(train, str) else tuple(train))
    if not set(trained) <= set(names):
        raise ValueError(
            f"`train` must name adapters among the active ones {list(names)}. "
            f"Received: train={list(trained)!r}"
        )
    _check_not_merged(state, "switch adapters")

    def change(context, state):
        state.active = names
        state.composition = composition
        state.frozen = tuple(n for n in names if n not in trained)

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
    state = require_state(model)
    _check_names(state, (adapter_name,), "adapter_name")
    users = [n for n, c in state.configs.items() if adapter_name in c.references()]
    if users:
        raise ValueError(
            f"Adapters {users} use {adapter_name!r}; delete them first. "
            f"Received: adapter_name={adapter_name!r}"
        )
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
    state.frozen = tuple(n for n in state.frozen if n != adapter_name)
    if state.configs:
        refresh(context, state, trainable_before)
    else:
        restore_trainability(model, state)
        set_state(model, None)
        make_plain(model)
        refresh_compiled(model, trainable_before)


def _unwrap(context, owner, attribute, wrapper):
    """Puts back what `wrapper` wraps; a `LayerChain`'s layers go back to their slots."""
    if not isinstance(wrapper.base_layer, LayerChain):
        set_sublayer(owner, attribute, wrapper.base_layer)
        return
    chain = wrapper.base_layer
    block = context.block_of(owner)
    set_sublayer(owner, attribute, getattr(chain, chain.slots[0]))
    for slot in chain.slots[1:]:
        slot_owner, slot_attribute = context.slot(block, slot, follow_moved=False)
        set_sublayer(slot_owner, slot_attribute, getattr(chain, slot))


def merge_adapters(model):
    """Folds the active adapters that can merge into the base weights.

    LoRA adds `scale * A B` to its kernels; every method whose wrapper
    implements the merge protocol (`keras_adapters.layers.MergeableWrapper`)
    folds its update its own way. The merged branches are then skipped, so
    inference costs what the base model costs. Other active methods keep
    running as they are.

    On a base quantised to int8 (`keras_adapters.quantize_base`), merging
    dequantises each kernel, folds the update in and re-quantises it, which
    rounds the update: the returned errors say by how much. A kernel
    quantised to int4 cannot be merged into; that raises a `ValueError`
    before any kernel changes.

    Returns:
        `{site: relative error}` for the sites whose kernel was re-quantised:
        `||W_stored - W_merged|| / ||W_merged||`, where `W_merged` is the
        dequantised kernel plus the update (what the unmerged model computes
        with) and `W_stored` what the int8 kernel now holds. Empty for a
        float base, whose merge is exact to float rounding.

    Example:
    ```python
    keras_adapters.merge_adapters(classifier)
    classifier.export("served", format="tf_saved_model")
    ```
    """
    state = require_state(model)
    if not state.enabled:
        raise ValueError("Adapters are disabled; `enable_adapters(model)` before merging.")
    errors = {}

    def change(context, state):
        wrappers = [w for _, _, w in context.wrappers() if isinstance(w, MergeableWrapper)]
        for wrapper in wrappers:
            for name in wrapper.active_adapters:
                if name not in wrapper.merged_adapters:
                    wrapper.check_merge(name)
        merged = set()
        for wrapper in wrappers:
            names = wrapper.merge()
            merged |= set(names)
            errors.update(_errors_of(wrapper, names))
        state.merged = tuple(n for n in state.active if n in merged or n in state.merged)

    _update(model, change)
    return errors


def unmerge_adapters(model):
    """Takes every merged update out of the base weights again.

    Returns:
        `{site: relative error}` of the sites whose int8 kernel was
        re-quantised (as `keras_adapters.merge_adapters`); a float base comes
        back exact to float rounding, a quantised one within that error.
    """
    errors = {}

    def change(context, state):
        for _, _, wrapper in context.wrappers():
            if isinstance(wrapper, MergeableWrapper):
                errors.update(_errors_of(wrapper, wrapper.unmerge()))
        state.merged = ()

    _update(model, change)
    return errors


def _errors_of(wrapper, names):
    """`{location: largest re-quantisation error}` of `names` at `wrapper`, if any."""
    found = [wrapper.merge_errors[n] for n in names if n in wrapper.merge_errors]
    return {wrapper.location: max(found)} if found else {}


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
    folded_config = config.folded()
    if folded_config is None:
        raise ValueError(
            "`adapter_name` must name an adapter with a reparameterisation to fold (a prefix "
            f"adapter with `reparameterize=True`). Received: adapter_name={adapter_name!r} "
            f"({config.method})"
        )

    def change(context, state):
        for wrapper in context.wrappers_of(adapter_name):
            module = wrapper.get_adapter(adapter_name)
            if not hasattr(module, "folded"):
                continue  # e.g. the parallel half of a MAM adapter
            with adapter_scope(wrapper.location, config.method):
                plain = module.folded()
            wrapper.remove_adapter(adapter_name)
            wrapper.add_adapter(adapter_name, plain)
        state.configs[adapter_name] = folded_config

    _update(model, change)


def list_adapters(model):
    """Returns `{name: {"method", "active", "merged"}}` for the model's adapters.

    Which active adapters are frozen (used, not trained) shows in
    `keras_adapters.trainable_report`.
    """
    state = require_state(model)
    active = set(state.active) if state.enabled else set()
    return {
        name: {"method": config.method, "active": name in active, "merged": name in state.merged}
        for name, config in state.configs.items()
    }
