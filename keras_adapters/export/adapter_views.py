"""Temporary views of an adapted model, for tracing serving graphs.

Adapter activity and merging are Python-level choices read by the wrappers
when a graph is traced. These context managers change only what the wrappers
compute, and put every wrapper (and every merged kernel, bit for bit) back on
exit, also when the block raises. They leave the model's `AdapterState`,
trainable flags and compiled state alone: the public lifecycle functions
re-sync trainability and may recompile a trained model (resetting its
optimizer), which an export must not do.
"""

import contextlib
import dataclasses

from keras import ops

from keras_adapters.injection.adapter_state import get_state
from keras_adapters.injection.add_adapter import sync_wrappers
from keras_adapters.injection.model_context import ModelContext
from keras_adapters.layers.lora_wrapper import LoraWrapper


@contextlib.contextmanager
def merged_lora(model):
    """Merges the active, unmerged LoRA updates into their kernels for the block.

    Other active adapters keep running. A model without adapters, or with
    adapters disabled, is left as it is.

    Yields:
        The names of the LoRA adapters merged during the block (including
        those the user had merged before).
    """
    state = get_state(model)
    if state is None or not state.enabled:
        yield ()
        return
    wrappers = [w for _, _, w in ModelContext(model).wrappers() if isinstance(w, LoraWrapper)]
    saved = []
    try:
        for wrapper in wrappers:
            pending = [n for n in wrapper.active_adapters if n not in wrapper.merged_adapters]
            if pending:
                saved.append(
                    (wrapper, wrapper.merged_adapters, ops.convert_to_numpy(wrapper.kernel))
                )
                wrapper.merge(pending)
        merged = {name for wrapper in wrappers for name in wrapper.merged_adapters}
        yield tuple(name for name in state.configs if name in merged)
    finally:
        for wrapper, merged_adapters, kernel in reversed(saved):
            wrapper.kernel.assign(kernel)
            wrapper.merged_adapters = merged_adapters


@contextlib.contextmanager
def only_active(model, adapter_names):
    """Makes `adapter_names` the (enabled) active adapters for the block."""
    state = get_state(model)
    context = ModelContext(model)
    previous = [(wrapper, wrapper.active_adapters) for _, _, wrapper in context.wrappers()]
    try:
        sync_wrappers(
            context, dataclasses.replace(state, active=tuple(adapter_names), enabled=True)
        )
        yield
    finally:
        for wrapper, active_adapters in previous:
            wrapper.active_adapters = active_adapters
