"""`AdapterConfig`: what every method config shares."""

import dataclasses

from keras_adapters.configs import validation

_CONFIG_CLASSES = {}


def register_config(cls):
    """Registers a config class under its `method` name, for `from_dict`."""
    if cls.method in _CONFIG_CLASSES:
        raise ValueError(f"A config for method {cls.method!r} is already registered.")
    _CONFIG_CLASSES[cls.method] = cls
    return cls


def registered_methods():
    return tuple(_CONFIG_CLASSES)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """Base of all method configs.

    A method config is plain data: which method, its hyperparameters and where
    it goes. `keras_adapters.add_adapter` turns it into layers.

    Args:
        layers: block indices to adapt (negative indices count from the end),
            or `None` for every block of the backbone.
        modules_to_save: layers outside the adapter that stay trainable and are
            saved in the adapter file, e.g. `["logits"]` for the classifier head
            of a KerasHub text classifier. A regex string (full match on
            `layer.path`) or a list of paths / path suffixes.
    """

    method = "base"

    layers: tuple = None
    modules_to_save: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "layers", validation.check_layer_indices(self.layers))
        modules = validation.check_patterns("modules_to_save", self.modules_to_save or None)
        object.__setattr__(self, "modules_to_save", modules or ())

    def get_config(self):
        """Returns a JSON-serialisable dict, including the `method` name."""
        config = {"method": self.method}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            config[field.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("method", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(
                f"Unknown fields for {cls.__name__}: {unknown}. Valid fields: {sorted(names)}."
            )
        return cls(**config)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def config_from_dict(config):
    """Rebuilds any registered method config from its `get_config()` dict.

    Example:
    ```python
    config = keras_adapters.LoraConfig(rank=4)
    same = keras_adapters.configs.config_from_dict(config.get_config())
    ```
    """
    if not isinstance(config, dict) or config.get("method") not in _CONFIG_CLASSES:
        method = config.get("method") if isinstance(config, dict) else None
        raise ValueError(
            f"Unknown adapter method {method!r}. Valid methods: {', '.join(_CONFIG_CLASSES)}."
        )
    return _CONFIG_CLASSES[config["method"]].from_config(config)
