"""`TrainableReport`: how many parameters each adapter adds and how many train."""

import dataclasses
import math

from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.planning.model_context import ModelContext


@dataclasses.dataclass(frozen=True)
class TrainableReport:
    """Parameter counts of an adapted model.

    Attributes:
        adapters: adapter name -> (method, parameter count, active?).
        modules_to_save: parameters of layers kept trainable beside adapters.
        trainable: parameters `fit` updates.
        total: all parameters of the model, adapters included.
        frozen: names of active adapters that are used but not trained.
    """

    adapters: dict
    modules_to_save: int
    trainable: int
    total: int
    frozen: tuple = ()

    @property
    def percent(self):
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self):
        lines = ["keras-adapters: trainable parameters"]
        for name, (method, count, active) in self.adapters.items():
            flag = ("active, frozen" if name in self.frozen else "active") if active else "inactive"
            lines.append(f"  adapter {name!r:<14} {method:<9} {count:>12,}  ({flag})")
        if self.modules_to_save:
            lines.append(f"  modules_to_save                   {self.modules_to_save:>12,}")
        lines.append(
            f"  trainable {self.trainable:,} of {self.total:,} parameters ({self.percent:.4f}%)"
        )
        return "\n".join(lines)


def trainable_report(model):
    """Counts the parameters of every adapter of `model` and what trains.

    Args:
        model: a model that went through `keras_adapters.add_adapter`.

    Returns:
        A `keras_adapters.TrainableReport`; `print()` it for a table.

    Example:
    ```python
    print(keras_adapters.trainable_report(classifier))
    ```
    """
    state = require_state(model)
    context = ModelContext(model)
    counts = {name: 0 for name in state.configs}
    for _, _, wrapper in context.wrappers():
        for name in wrapper.adapter_names:
            counts[name] += _size(wrapper.get_adapter(name).weights)
    active = set(state.active) if state.enabled else set()
    saved = {}
    for name in state.active:
        for layer in modules_to_save_layers(model, state.configs[name].modules_to_save):
            saved.update({id(v): v for v in layer.weights})
    return TrainableReport(
        adapters={
            name: (config.method, counts[name], name in active)
            for name, config in state.configs.items()
        },
        modules_to_save=_size(saved.values()),
        trainable=_size(model.trainable_weights),
        total=_size(model.weights),
        frozen=tuple(n for n in state.frozen if n in active),
    )


def _size(variables):
    return sum(math.prod(v.shape) for v in variables)
