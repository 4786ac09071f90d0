"""Keeping wrappers, trainable flags and compiled functions in line with `AdapterState`."""

from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.injection.trainability import apply_trainability


def sync_wrappers(context, state):
    """Pushes the model-level active set into every wrapper."""
    active = state.active if state.enabled else ()
    for _, _, wrapper in context.wrappers():
        wrapper.active_adapters = [n for n in active if n in wrapper.adapter_names]
        wrapper.composition = state.composition


def refresh(context, state, trainable_before):
    """After a change of `state`: sync wrappers, freeze/unfreeze, fix compiled functions."""
    sync_wrappers(context, state)
    apply_trainability(context, state)
    refresh_compiled(context.root, trainable_before)
