"""Rebuilding a model's adapters from the state recorded in its config."""

from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.injection.adapter_plan import commit_adapter, plan_adapter
from keras_adapters.injection.adapter_state import AdapterState, require_state
from keras_adapters.injection.quantize_base import replay_quantization
from keras_adapters.injection.trainability import apply_trainability
from keras_adapters.injection.wrapper_sync import sync_wrappers
from keras_adapters.planning.model_context import ModelContext


def replay_adapters(model, state_config):
    """Replays the adapters of `state_config` on a freshly built `model`.

    Weights are not touched (Keras loads them next); merged adapters are only
    flagged as merged, since the saved base weights already contain them. Base
    layers `keras_adapters.quantize_base` quantised are quantised again.
    """
    for name, config in AdapterState.records_from_config(state_config):
        plan = plan_adapter(model, config, name, activate=False, restoring=True)
        commit_adapter(plan, activate=False)
    state = require_state(model)
    state.active = tuple(state_config["active"])
    state.enabled = bool(state_config["enabled"])
    state.merged = tuple(state_config["merged"])
    state.composition = state_config.get("composition", "parallel")
    state.frozen = tuple(state_config.get("frozen", ()))
    context = ModelContext(model)
    for _, _, wrapper in context.wrappers():
        if isinstance(wrapper, MergeableWrapper):
            wrapper.merged_adapters = tuple(
                n for n in state.merged if n in wrapper.adapter_names and n in state.active
            )
    sync_wrappers(context, state)
    apply_trainability(context, state)
    replay_quantization(model, state_config.get("quantized", ()))
