"""`.keras` round trips of adapted models.

KerasHub models rebuild themselves from hyperparameters in `from_config`, so
inserted layers would be missing at load time ("expected 2 variables, but
received 0"). An adapted model therefore gets a subclass of its own class
that only adds serialization: `get_config` records the adapters, and
`from_config` builds the base model and replays `add_adapter` for each, in
order, before Keras loads the weights. All such subclasses share one
registered name, `keras_adapters>AdaptedModel`, so `keras.models.load_model`
finds them after `import keras_adapters`.
"""

import importlib

import keras

from keras_adapters.injection.adapter_state import get_state
from keras_adapters.injection.replay_adapters import replay_adapters

CONFIG_KEY = "keras_adapters"
REGISTERED_NAME = "AdaptedModel"
_ADAPTED_CLASSES = {}


class AdaptedModel:
    """Mixin placed in front of the class of a model that has adapters."""

    def get_config(self):
        config = super().get_config()
        state = get_state(self).get_config()
        base = type(self).__mro__[2]
        state["base_class"] = {
            "module": base.__module__,
            "class_name": base.__name__,
            "registered_name": keras.saving.get_registered_name(base),
        }
        config[CONFIG_KEY] = state
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        state = config.pop(CONFIG_KEY)
        base = _resolve_class(state["base_class"], custom_objects)
        model = base.from_config(config)
        replay_adapters(model, state)
        make_adapted(model)
        return model


def _register(cls):
    keras.saving.register_keras_serializable(package="keras_adapters", name=REGISTERED_NAME)(cls)


_register(AdaptedModel)


def adapted_class(base):
    """The registered adapted subclass of `base` (created once per class)."""
    if base not in _ADAPTED_CLASSES:
        cls = type(f"Adapted{base.__name__}", (AdaptedModel, base), {"__module__": __name__})
        _register(cls)
        _register(AdaptedModel)  # keep the shared name resolving to the mixin
        _ADAPTED_CLASSES[base] = cls
    return _ADAPTED_CLASSES[base]


def make_adapted(model):
    """Gives `model` the registered adapted subclass of its class (once)."""
    if not isinstance(model, AdaptedModel):
        model.__class__ = adapted_class(type(model))


def make_plain(model):
    """Gives `model` its original class back."""
    if isinstance(model, AdaptedModel):
        model.__class__ = type(model).__mro__[2]


def _resolve_class(reference, custom_objects):
    found = keras.saving.get_registered_object(
        reference["registered_name"], custom_objects=custom_objects
    )
    if found is not None:
        return found
    module = reference["module"]
    if module == "keras" or module.startswith(("keras.", "keras_hub.")):
        found = getattr(importlib.import_module(module), reference["class_name"], None)
        if found is not None:
            return found
    raise ValueError(
        f"Cannot find the model class {reference['class_name']!r} ({reference['registered_name']}) "
        "of this adapted model. Import the module that defines it, or pass it in "
        "`custom_objects`."
    )
