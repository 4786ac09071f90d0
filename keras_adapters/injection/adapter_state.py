"""`AdapterState`: the adapters of one model, kept on the model object."""

import dataclasses

from keras_adapters.methods.registry import config_from_dict

STATE_ATTRIBUTE = "_keras_adapters_state"
# 2 added `composition` and `frozen` (1 is read as parallel, none frozen);
# 3 added `quantized` (older versions are read as a float base).
STATE_FORMAT_VERSION = 3
COMPOSITIONS = ("parallel", "stack")


@dataclasses.dataclass
class AdapterState:
    """Which adapters a model has, which are active, enabled and merged.

    Attributes:
        configs: adapter name -> method config, in the order they were added.
        active: names of the active adapters.
        enabled: `False` after `keras_adapters.disable_adapters`.
        merged: names of the adapters merged into base weights.
        composition: `"parallel"` (active adapters sharing a site each read
            its input) or `"stack"` (each reads the previous one's output).
        frozen: names of active adapters that are used but not trained.
        quantized: what `keras_adapters.quantize_base` did, in order: dicts
            `{"mode", "config", "paths"}` (config serialized or `None`), so a
            `.keras` file quantises the same layers again when it loads.
        original_trainable: `id(variable)` -> its `trainable` flag before
            the first adapter, to restore when the last one is deleted.
    """

    configs: dict = dataclasses.field(default_factory=dict)
    active: tuple = ()
    enabled: bool = True
    merged: tuple = ()
    composition: str = "parallel"
    frozen: tuple = ()
    quantized: tuple = ()
    original_trainable: dict = dataclasses.field(default_factory=dict)

    @property
    def training(self):
        """The adapters whose weights train: active, enabled, not merged, not frozen."""
        if not self.enabled:
            return ()
        return tuple(n for n in self.active if n not in self.merged and n not in self.frozen)

    def get_config(self):
        return {
            "format_version": STATE_FORMAT_VERSION,
            "adapters": [
                {"name": name, "config": config.get_config()}
                for name, config in self.configs.items()
            ],
            "active": list(self.active),
            "enabled": self.enabled,
            "merged": list(self.merged),
            "composition": self.composition,
            "frozen": list(self.frozen),
            "quantized": [dict(record) for record in self.quantized],
        }

    @staticmethod
    def records_from_config(config):
        """`[(name, method config)]` from `get_config()` output."""
        return [(r["name"], config_from_dict(r["config"])) for r in config["adapters"]]


def get_state(model):
    """The model's `AdapterState`, or `None` if it has no adapters."""
    return model.__dict__.get(STATE_ATTRIBUTE)


def require_state(model):
    state = get_state(model)
    if state is None:
        raise ValueError(
            f"Model {model.name!r} has no adapters. Add one with `keras_adapters.add_adapter`."
        )
    return state


def set_state(model, state):
    # Plain attribute, outside Keras tracking: it is not model state to save as weights.
    if state is None:
        model.__dict__.pop(STATE_ATTRIBUTE, None)
    else:
        object.__setattr__(model, STATE_ATTRIBUTE, state)
