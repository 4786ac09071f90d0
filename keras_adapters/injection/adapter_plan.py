"""`AdapterPlan`: everything `add_adapter` will do, computed before the model changes."""

import dataclasses

from keras_adapters.core.validation import check_adapter_name
from keras_adapters.injection.adapter_state import AdapterState, get_state, set_state
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.injection.wrapper_sync import refresh
from keras_adapters.methods.registry import method_for
from keras_adapters.planning.adapter_scope import adapter_scope
from keras_adapters.planning.model_context import ModelContext


@dataclasses.dataclass
class AdapterPlan:
    """The sites of one adapter and its built modules, not yet inserted.

    Attributes:
        context: the model's `ModelContext`.
        config: the method config.
        adapter_name: the adapter's name.
        insertions: `[(site, module)]`.
    """

    context: ModelContext
    config: object
    adapter_name: str
    insertions: list

    def expected_weights(self):
        """`{file key: shape}` of the weights this adapter will own."""
        return {
            f"{site.location}/{variable.name}": tuple(variable.shape)
            for site, module in self.insertions
            for variable in module.weights
        }

    def modules(self):
        return [module for _, module in self.insertions]


def plan_adapter(model, config, adapter_name, activate=True, restoring=False):
    """Validates everything and builds the adapter modules; changes nothing.

    The method registry maps `config` to its `AdapterMethod`; the method finds
    its sites, and each site's module is built under the name scope
    `<site>/<method>/<adapter_name>`, so variable paths are unique per adapter.
    With `restoring`, the caller loads the weights next (see `ModelContext`).
    """
    check_adapter_name(adapter_name)
    method = method_for(config)
    context = ModelContext(model, restoring=restoring)
    state = get_state(model)
    if state is not None and adapter_name in state.configs:
        raise ValueError(
            f"`adapter_name` {adapter_name!r} is already used on {model.name!r}. "
            f"Adapters: {list(state.configs)}. Choose another name or delete it first."
        )
    if activate and state is not None and state.merged:
        raise ValueError(
            f"Adapters {list(state.merged)} are merged into the base weights; call "
            f"`keras_adapters.unmerge_adapters` before activating {adapter_name!r}, "
            "or pass `activate=False`."
        )
    _check_no_foreign_adapters(context, state)
    modules_to_save_layers(model, config.modules_to_save)
    insertions = []
    for site in method.find_sites(context, config):
        with adapter_scope(site.location, config.method):
            module = method.build_module(config, site, context, adapter_name)
        insertions.append((site, module))
    return AdapterPlan(context, config, adapter_name, insertions)


def _check_no_foreign_adapters(context, state):
    """Refuses a model whose backbone holds adapters that another model manages.

    Adapter state lives on the model they were added through. A backbone
    shared by two models (the backbone itself and a classifier around it,
    or the masked LM of stage 1 and the classifier of stage 2) would
    otherwise get two states that each see the other's wrappers.
    """
    known = set(state.configs) if state is not None else set()
    foreign = sorted({n for _, _, w in context.wrappers() for n in w.adapter_names} - known)
    if foreign:
        model = context.root
        raise ValueError(
            f"The backbone of {model.name!r} holds adapters {foreign} that were added through "
            "another model sharing this backbone (the backbone itself, or another task model "
            "around it, such as `keras_adapters.models.masked_lm_for`'s masked LM). Add this "
            "adapter through that same model, or save those adapters with "
            "`keras_adapters.save_adapter` and load them with `keras_adapters.load_adapter` into "
            f"a model with a backbone of its own. Received: model={type(model).__name__} "
            f"{model.name!r}"
        )


def commit_adapter(plan, activate):
    """Inserts the planned modules and updates state, trainability and compile."""
    model = plan.context.root
    trainable_before = [id(v) for v in model.trainable_weights]
    state = get_state(model)
    if state is None:
        state = AdapterState(original_trainable={id(v): v.trainable for v in model.weights})
        set_state(model, state)
    for site, module in plan.insertions:
        site.insert(plan.adapter_name, module)
    state.configs[plan.adapter_name] = plan.config
    if activate:
        state.active, state.composition, state.frozen = (plan.adapter_name,), "parallel", ()
    refresh(plan.context, state, trainable_before)
