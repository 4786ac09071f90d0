"""`.keras` round trips of adapted models.

KerasHub models rebuild themselves from hyperparameters in `from_config`, so
inserted layers would be missing at load time ("expected 2 variables, but
received 0"). An adapted model therefore gets a subclass of its own class
that only adds serialization: `get_config` records the adapters, and
`from_config` builds the base model and replays `add_adapter` for each, in
order, before Keras loads the weights. A saved config never holds a wrapper
(a task's preprocessor is saved as the preprocessor it wraps): the replay
puts every wrapper back. All such subclasses share one
registered name, `keras_adapters>AdaptedModel`, so `keras.models.load_model`
finds them after `import keras_adapters`.

The subclass also carries the model-level training hook: `train_step` runs
the gradient hooks of the active adapters' methods (AdaLoRA's rank
allocation) between computing and applying the gradients, and is Keras' own
`train_step` when no active adapter has one.
"""

import importlib

import keras

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.injection.adapter_state import get_state
from keras_adapters.injection.gradient_hooks import gradient_hooks, hook_applications
from keras_adapters.injection.replay_adapters import replay_adapters
from keras_adapters.injection.tensorflow_train_step import train_step_with_hooks
from keras_adapters.planning.layer_tree import innermost

CONFIG_KEY = "keras_adapters"
REGISTERED_NAME = "AdaptedModel"
_ADAPTED_CLASSES = {}


class AdaptedModel:
    """Mixin placed in front of the class of a model that has adapters."""

    def train_step(self, *args, **kwargs):
        """Keras' `train_step`, plus the active adapters' gradient hooks if they have any.

        The hooks are looked up when the step is traced; adapter changes drop
        the traced function (`keras_adapters.injection.compiled_model`), so
        the next `fit` traces again with the new set.
        """
        hooks = gradient_hooks(self)
        if not hooks:
            return super().train_step(*args, **kwargs)
        state = get_state(self)
        names = [n for n in state.active if n not in state.merged]
        if keras.config.backend() != "tensorflow":
            raise NotImplementedError(
                f"The active adapters {names} update their state from the gradients inside "
                "`fit` (e.g. AdaLoRA's rank allocation), which keras-adapters implements for "
                f"the TensorFlow backend only. This is the {keras.config.backend()!r} backend: "
                "set KERAS_BACKEND=tensorflow to train them (inference works on any backend)."
            )
        base = type(self).__mro__[2]
        if base.train_step is not keras.Model.train_step:
            # The model's own `train_step` must call `apply_gradient_hooks`.
            calls = hook_applications()
            outputs = super().train_step(*args, **kwargs)
            if hook_applications() == calls:
                raise NotImplementedError(
                    f"{base.__name__} overrides `train_step`, and the active adapters {names} "
                    "need their gradient hooks inside it: call "
                    "`keras_adapters.apply_gradient_hooks(model, variables, gradients)` there, "
                    "between computing and applying the gradients."
                )
            return outputs
        return train_step_with_hooks(self, *args, hooks=hooks, **kwargs)

    def get_config(self):
        config = super().get_config()
        preprocessor = getattr(self, "preprocessor", None)
        if isinstance(preprocessor, AdapterWrapper) and "preprocessor" in config:
            config["preprocessor"] = keras.layers.serialize(innermost(preprocessor))
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
