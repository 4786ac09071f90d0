"""`AdapterWrapper`: a base layer plus named adapter modules."""

import keras

from keras_adapters.core.dtype_policy import unquantized_policy
from keras_adapters.core.tracking import unlocked
from keras_adapters.core.validation import check_adapter_name

MODULE_PREFIX = "adapter_"


class AdapterWrapper(keras.layers.Layer):
    """Base class of every layer that wraps a base layer with named adapters.

    Each adapter is a sublayer stored as the attribute `adapter_<name>`, so
    Keras saves its weights under its name, never under a position. Only the
    adapters in `active_adapters` take part in `call`; with none active a
    wrapper computes exactly what its base layer computes.

    Subclasses implement `call` and, if their modules need shapes that only
    the base layer knows, `build`. A subclass that reads or rewrites its base
    layer's kernel lists the Keras quantisation modes it can do that for in
    `quantization_modes` (`None`: it never looks inside the base layer).

    Args:
        base_layer: the layer being adapted.
        adapters: dict of adapter name to adapter module (a Keras layer).
        active_adapters: names of the adapters used in `call`; defaults to all.
        location: the stable key of this site in adapter files, e.g.
            `"transformer_layer_0/self_attention_layer/query"`.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    quantization_modes = None

    def __init__(self, base_layer, adapters=None, active_adapters=None, location=None, **kwargs):
        if not isinstance(base_layer, keras.layers.Layer):
            raise ValueError(
                f"`base_layer` must be a Keras layer. Received: base_layer={base_layer!r}"
            )
        kwargs.setdefault("dtype", unquantized_policy(base_layer.dtype_policy))
        kwargs.setdefault("name", f"{base_layer.name}_adapted")
        super().__init__(**kwargs)
        self.base_layer = base_layer
        self.location = location
        # "parallel": active modules read the site's input and add up;
        # "stack": each reads what the previous produced (`keras_adapters.Stack`).
        self.composition = "parallel"
        self._adapter_names = []
        self._active_adapters = ()
        for name, module in (adapters or {}).items():
            self.add_adapter(name, module)
        self.active_adapters = (
            tuple(self._adapter_names) if active_adapters is None else active_adapters
        )
        self.supports_masking = getattr(base_layer, "supports_masking", False)
        if base_layer.built and all(m.built for m in self.adapter_modules()):
            self.built = True

    # === Named adapters ===

    @property
    def adapter_names(self):
        return tuple(self._adapter_names)

    def get_adapter(self, name):
        if name not in self._adapter_names:
            raise KeyError(
                f"No adapter named {name!r} in {self.name}. Adapters: {self._adapter_names}"
            )
        return getattr(self, MODULE_PREFIX + name)

    def adapter_modules(self, names=None):
        names = self._adapter_names if names is None else names
        return [getattr(self, MODULE_PREFIX + name) for name in names]

    def add_adapter(self, name, module):
        check_adapter_name(name)
        if name in self._adapter_names:
            raise ValueError(f"Adapter {name!r} already exists in layer {self.name}.")
        with unlocked(self):
            setattr(self, MODULE_PREFIX + name, module)
        self._adapter_names.append(name)

    def remove_adapter(self, name):
        module = self.get_adapter(name)
        self._adapter_names.remove(name)
        self._tracker.untrack(module)
        object.__delattr__(self, MODULE_PREFIX + name)
        self._active_adapters = tuple(n for n in self._active_adapters if n != name)
        return module

    @property
    def active_adapters(self):
        return self._active_adapters

    @active_adapters.setter
    def active_adapters(self, names):
        names = tuple(names)
        unknown = [n for n in names if n not in self._adapter_names]
        if unknown:
            raise ValueError(
                f"Unknown adapters {unknown} for layer {self.name}. "
                f"Adapters here: {self._adapter_names}"
            )
        self._active_adapters = names

    def active_modules(self):
        return self.adapter_modules(self._active_adapters)

    # === Keras plumbing ===

    def build(self, input_shape=None):
        if not self.base_layer.built:
            self.base_layer.build(input_shape)
        for module in self.adapter_modules():
            if not module.built:
                module.build(input_shape)

    def prepare_base_quantization(self):
        """Called before the base layer is quantised; returns a callable to run after, or None.

        A method whose weights are tied to the base kernel's values (DoRA's
        magnitudes are its column norms) uses it to keep its effect relative
        to the quantised base.
        """
        return None

    def compute_output_shape(self, input_shape):
        return self.base_layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "base_layer": keras.saving.serialize_keras_object(self.base_layer),
                "adapters": {
                    name: keras.saving.serialize_keras_object(module)
                    for name, module in zip(self._adapter_names, self.adapter_modules())
                },
                "active_adapters": list(self._active_adapters),
                "location": self.location,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["base_layer"] = keras.saving.deserialize_keras_object(config["base_layer"])
        config["adapters"] = {
            name: keras.saving.deserialize_keras_object(module)
            for name, module in config.get("adapters", {}).items()
        }
        return cls(**config)
