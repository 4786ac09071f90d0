"""Temporary views of an adapted model, for tracing serving graphs.

Adapter activity and merging are Python-level choices read by the wrappers
when a graph is traced. These context managers change only what the wrappers
compute, and put every wrapper (and every merged base weight, bit for bit)
back on exit, also when the block raises. They leave the model's
`AdapterState`, trainable flags and compiled state alone: the public
lifecycle functions re-sync trainability and may recompile a trained model
(resetting its optimizer), which an export must not do.
"""

import contextlib
import dataclasses

from keras import ops

from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.injection.adapter_state import get_state
from keras_adapters.injection.wrapper_sync import sync_wrappers
from keras_adapters.planning.model_context import ModelContext


@contextlib.contextmanager
def merged_adapters(model):
    """Merges the active, unmerged adapters that can merge, for the block.

    Other active adapters keep running. A model without adapters, or with
    adapters disabled, is left as it is.

    Yields:
        The names of the adapters merged during the block (including those
        the user had merged before).
    """
    state = get_state(model)
    if state is None or not state.enabled:
        yield ()
        return
    wrappers = [w for _, _, w in ModelContext(model).wrappers() if isinstance(w, MergeableWrapper)]
    for wrapper in wrappers:  # e.g. an int4 kernel: refuse before any kernel changes
        for name in wrapper.active_adapters:
            if name not in wrapper.merged_adapters:
                wrapper.check_merge(name)
    saved = []
    try:
        for wrapper in wrappers:
            pending = [n for n in wrapper.active_adapters if n not in wrapper.merged_adapters]
            if pending:
                snapshot = [(v, ops.convert_to_numpy(v)) for v in wrapper.merge_variables()]
                saved.append(
                    (wrapper, wrapper.merged_adapters, dict(wrapper.merge_errors), snapshot)
                )
                wrapper.merge(pending)
        merged = {name for wrapper in wrappers for name in wrapper.merged_adapters}
        yield tuple(name for name in state.configs if name in merged)
    finally:
        for wrapper, merged_before, errors_before, snapshot in reversed(saved):
            for variable, value in snapshot:
                variable.assign(value)
            wrapper.merged_adapters = merged_before
            wrapper.merge_errors = errors_before


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


@contextlib.contextmanager
def base_with_replaced_layers(model, replacements):
    """Runs the base model (no adapter active) with some sublayers replaced, for the block.

    Args:
        model: the model.
        replacements: `[(owner, attribute, layer)]`: `layer` stands in for
            `owner.<attribute>`. It is set without Keras' tracking, so the
            model's layers and variables stay as they are, and the original
            is put back on exit, also when the block raises. A wrapper
            (`attribute == "base_layer"`) with no active adapter calls
            whatever stands there.
    """
    view = only_active(model, ()) if get_state(model) is not None else contextlib.nullcontext()
    originals = []
    with view:
        try:
            for owner, attribute, layer in replacements:
                originals.append((owner, attribute, getattr(owner, attribute)))
                object.__setattr__(owner, attribute, layer)
            yield
        finally:
            for owner, attribute, original in reversed(originals):
                object.__setattr__(owner, attribute, original)
