"""`add_adapter`: the one way adapters get into a model."""

import dataclasses

from keras_adapters.configs.validation import check_adapter_name
from keras_adapters.injection.adapter_state import AdapterState
from keras_adapters.injection.adapter_state import get_state
from keras_adapters.injection.adapter_state import set_state
from keras_adapters.injection.compiled_model import refresh_compiled
from keras_adapters.injection.model_context import ModelContext
from keras_adapters.injection.planners import planner_for
from keras_adapters.injection.trainability import apply_trainability
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.injection.trainable_report import trainable_report


@dataclasses.dataclass
class AdapterPlan:
    """Everything `add_adapter` will do, computed without changing the model."""

    context: ModelContext
    config: object
    adapter_name: str
    insertions: list

    def expected_weights(self):
        """`{file key: shape}` of the weights this adapter will own."""
        shapes = {}
        for insertion in self.insertions:
            for variable in insertion.module.weights:
                shapes[f"{insertion.location}/{variable.name}"] = tuple(variable.shape)
        return shapes


def plan_adapter(model, config, adapter_name, activate=True):
    """Validates everything and builds the adapter modules; changes nothing."""
    check_adapter_name(adapter_name)
    planner = planner_for(config)
    context = ModelContext(model)
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
    modules_to_save_layers(model, config.modules_to_save)
    insertions = planner(context, config, adapter_name)
    return AdapterPlan(context, config, adapter_name, insertions)


def commit_adapter(plan, activate):
    """Inserts the planned modules and updates state, trainability and compile."""
    from keras_adapters.saving.adapted_model import make_adapted

    model = plan.context.root
    trainable_before = [id(v) for v in model.trainable_weights]
    state = get_state(model)
    if state is None:
        state = AdapterState(original_trainable={id(v): v.trainable for v in model.weights})
        set_state(model, state)
        make_adapted(model)
    for insertion in plan.insertions:
        insertion.apply(plan.adapter_name)
    state.configs[plan.adapter_name] = plan.config
    if activate:
        state.active = (plan.adapter_name,)
    sync_wrappers(plan.context, state)
    apply_trainability(plan.context, state)
    refresh_compiled(model, trainable_before)


def sync_wrappers(context, state):
    """Pushes the model-level active set into every wrapper."""
    active = state.active if state.enabled else ()
    for _, _, wrapper in context.wrappers():
        wrapper.active_adapters = [n for n in active if n in wrapper.adapter_names]


def add_adapter(model, config, adapter_name="default", activate=True, verbose=True):
    """Inserts an adapter into a KerasHub model, in place, and freezes the rest.

    Works on a backbone (e.g. `keras_hub.models.BertBackbone`) or on a model
    containing one (e.g. `keras_hub.models.BertTextClassifier`). Where the
    layers go comes from the backbone's spec and `config`; everything is
    validated before the model changes. After the call only the active
    adapter's weights (and `config.modules_to_save`) are trainable; a model
    compiled and trained before is recompiled.

    Args:
        model: the model to adapt.
        config: a method config, e.g. `keras_adapters.LoraConfig(rank=8)`.
        adapter_name: a Python identifier, unique on this model.
        activate: make this the (only) active adapter. Use
            `keras_adapters.set_active_adapters` to combine several.
        verbose: print the trainable-parameter report.

    Returns:
        A `keras_adapters.TrainableReport`.

    Example:
    ```python
    classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2)
    keras_adapters.add_adapter(
        classifier,
        keras_adapters.LoraConfig(rank=8, modules_to_save=["logits"]),
        adapter_name="sentiment",
    )
    classifier.compile(optimizer="adam", loss=..., jit_compile=True)
    ```
    """
    plan = plan_adapter(model, config, adapter_name, activate)
    commit_adapter(plan, activate)
    report = trainable_report(model)
    if verbose:
        print(report)
    return report
