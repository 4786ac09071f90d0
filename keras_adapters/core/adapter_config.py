"""`AdapterConfig`: what every method config shares."""

import dataclasses

from keras_adapters.core import validation


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """Base of all method configs.

    A method config is plain data: which method, its hyperparameters and where
    it goes. `keras_adapters.add_adapter` turns it into layers through the
    method registry (`keras_adapters.methods.register_method`).

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
        """Rebuilds the config from `get_config()` output (the `method` key is optional)."""
        config = dict(config)
        config.pop("method", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(
                f"Unknown fields for {cls.__name__}: {unknown}. Valid fields: {sorted(names)}."
            )
        return cls(**config)

    def folded(self):
        """The config after folding a training-time reparameterisation, or `None`.

        `keras_adapters.eject_prefix` uses it; methods without one return `None`.
        """
        return None

    def references(self):
        """Names of other adapters this one uses (they cannot be deleted while it exists)."""
        return ()

    def replace(self, **changes):
        """A copy with `changes` applied (validated like a new config)."""
        return dataclasses.replace(self, **changes)
