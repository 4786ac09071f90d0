"""The registry of backbone specs, looked up by backbone class."""

from keras_adapters.specs.backbone_spec import BackboneSpec

_SPECS = {}


def register_backbone_spec(spec):
    """Adds a `keras_adapters.specs.BackboneSpec` to the registry.

    Args:
        spec: the record. One per backbone class.

    Returns:
        `spec`.

    Example:
    ```python
    keras_adapters.specs.register_backbone_spec(
        keras_adapters.specs.BackboneSpec(
            backbone_class=MyBackbone,
            blocks="transformer_layers",
            slots=keras_adapters.specs.TRANSFORMER_ENCODER_SLOTS,
            ffn_chain=keras_adapters.specs.TRANSFORMER_ENCODER_FFN_CHAIN,
        )
    )
    ```
    """
    if not isinstance(spec, BackboneSpec):
        raise ValueError(f"`spec` must be a BackboneSpec. Received: spec={spec!r}")
    if spec.backbone_class in _SPECS:
        raise ValueError(f"A spec for {spec.name} is already registered.")
    _SPECS[spec.backbone_class] = spec
    return spec


def supported_backbones():
    """Names of the backbone classes that have a spec."""
    return tuple(sorted(cls.__name__ for cls in _SPECS))


def get_backbone_spec(backbone):
    """Returns the spec for a backbone instance (its class or nearest base class)."""
    return get_backbone_class_spec(type(backbone))


def get_backbone_class_spec(backbone_class):
    """Returns the spec for a backbone class (itself or its nearest registered base class).

    Records that extend a backbone's spec (e.g. how Hugging Face names its
    layers) check their slots against it when they are registered.
    """
    for cls in getattr(backbone_class, "__mro__", ()):
        if cls in _SPECS:
            return _SPECS[cls]
    raise ValueError(
        f"Backbone class {getattr(backbone_class, '__name__', backbone_class)} is not supported. "
        f"Supported backbones: {', '.join(supported_backbones())}. Add one with "
        "`keras_adapters.specs.register_backbone_spec`."
    )
