"""The registry of attention specs, looked up by attention layer class."""

from keras_adapters.attention.attention_spec import AttentionSpec

_SPECS = {}


def register_attention_spec(spec):
    """Adds a `keras_adapters.attention.AttentionSpec`; one per attention class.

    Args:
        spec: the record.

    Returns:
        `spec`.

    Example:
    ```python
    keras_adapters.attention.register_attention_spec(
        keras_adapters.attention.AttentionSpec(
            attention_class=MyAttention,
            kv_shape=lambda layer: (layer.num_heads, layer.head_dim, layer.head_dim),
        )
    )
    ```
    """
    if not isinstance(spec, AttentionSpec):
        raise ValueError(f"`spec` must be an AttentionSpec. Received: spec={spec!r}")
    if spec.attention_class in _SPECS:
        raise ValueError(
            f"An attention spec for {spec.attention_class.__name__} is already registered."
        )
    _SPECS[spec.attention_class] = spec
    return spec


def supported_attention_classes():
    """Names of the attention layer classes that have a spec."""
    return tuple(sorted(spec.name for spec in _SPECS.values()))


def find_attention_spec(layer):
    """The spec of `layer`'s class (or nearest base class), or `None`."""
    for cls in type(layer).__mro__:
        if cls in _SPECS:
            return _SPECS[cls]
    return None


def get_attention_spec(layer, needed_by="This method"):
    """The spec of `layer`'s class; a `ValueError` naming the supported classes if none."""
    spec = find_attention_spec(layer)
    if spec is None:
        raise ValueError(
            f"{needed_by} needs to reach inside the attention layer {getattr(layer, 'path', None) or layer.name!r}, "
            f"a {type(layer).__name__}, which has no attention spec. Supported attention classes: "
            f"{', '.join(supported_attention_classes())}. Add one with "
            "`keras_adapters.attention.register_attention_spec`."
        )
    return spec
