"""`add_adapter`: the one way adapters get into a model."""

from keras_adapters.injection.adapted_model import make_adapted
from keras_adapters.injection.adapter_plan import commit_adapter, plan_adapter
from keras_adapters.injection.trainable_report import trainable_report


def insert_planned(plan, activate):
    """Inserts a checked `AdapterPlan` and marks the model as adapted (for `.keras`)."""
    commit_adapter(plan, activate)
    make_adapted(plan.context.root)


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
    insert_planned(plan_adapter(model, config, adapter_name, activate), activate)
    report = trainable_report(model)
    if verbose:
        print(report)
    return report
