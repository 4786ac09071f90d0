"""`TrainableReport`: how many parameters each adapter adds and how many train."""

import dataclasses
import math

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.injection.adapter_rank import AdapterRank
from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.trainability import module_parameters, modules_to_save_layers
from keras_adapters.planning.layer_tree import innermost, walk
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.specs.slots import PROJECTION_SLOTS


@dataclasses.dataclass(frozen=True)
class TrainableReport:
    """Parameter counts of an adapted model.

    Attributes:
        adapters: adapter name -> (method, parameter count, active?).
            Weights a method updates itself (`state_weights`, e.g.
            AdaLoRA's masks) are not parameters.
        modules_to_save: parameters of layers kept trainable beside adapters.
        trainable: parameters `fit` updates.
        total: all parameters of the model, adapters included.
        frozen: names of active adapters that are used but not trained.
        ranks: adapter name -> tuple of `keras_adapters.AdapterRank`, one per
            matrix, for adapters whose rank changes in training (their
            modules have `effective_rank()`, as AdaLoRA's do).
    """

    adapters: dict
    modules_to_save: int
    trainable: int
    total: int
    frozen: tuple = ()
    ranks: dict = dataclasses.field(default_factory=dict)

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
        for name, ranks in self.ranks.items():
            lines.extend(_rank_table(name, ranks))
        return "\n".join(lines)


def _rank_table(name, ranks):
    """Lines of a block x projection table of kept / initial rank."""
    projections = list(dict.fromkeys(r.projection for r in ranks))
    cells = {(r.block, r.projection): f"{r.rank}/{r.initial_rank}" for r in ranks}
    width = max(len(p) for p in projections + ["ranks"])
    kept, initial = sum(r.rank for r in ranks), sum(r.initial_rank for r in ranks)
    lines = [f"  ranks of adapter {name!r} (kept/initial): {kept} of {initial} triplets"]
    lines.append("    block " + " ".join(f"{p:>{width}}" for p in projections))
    for block in sorted({r.block for r in ranks}):
        row = " ".join(f"{cells.get((block, p), '-'):>{width}}" for p in projections)
        lines.append(f"    {block:>5} {row}")
    return lines


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
            counts[name] += _size(module_parameters(wrapper.get_adapter(name)))
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
        ranks=_adapter_ranks(context),
    )


def _adapter_ranks(context):
    """`{adapter: (AdapterRank, ...)}` for modules with `effective_rank()`, block then slot order.

    The projection is the projection slot the wrapped layer fills, else the
    last part of the wrapper's location.
    """
    order = [slot for slot in PROJECTION_SLOTS if context.spec.has_slot(slot)]
    ranks = {}
    for index, block in enumerate(context.blocks):
        found = []
        for _, _, wrapper in walk(block):
            if not isinstance(wrapper, AdapterWrapper):
                continue
            modules = [(n, wrapper.get_adapter(n)) for n in wrapper.adapter_names]
            modules = [(n, m) for n, m in modules if hasattr(m, "effective_rank")]
            if modules:
                found.append((wrapper, modules))
        if not found:
            continue
        slots = {id(context.slot_layer(block, slot)): slot for slot in order}
        entries = []
        for wrapper, modules in found:
            slot = slots.get(id(innermost(wrapper)))
            projection = slot or (wrapper.location or wrapper.name).split("/")[-1]
            position = order.index(slot) if slot else len(order)
            for name, module in modules:
                rank = AdapterRank(
                    wrapper.location, index, projection, module.effective_rank(), module.rank
                )
                entries.append((position, name, rank))
        for _, name, rank in sorted(entries, key=lambda entry: entry[0]):
            ranks.setdefault(name, []).append(rank)
    return {name: tuple(found) for name, found in ranks.items()}


def _size(variables):
    return sum(math.prod(v.shape) for v in variables)
