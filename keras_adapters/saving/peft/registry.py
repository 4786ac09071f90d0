"""The registry of `PeftArchitecture` records, looked up by KerasHub backbone class."""

from keras_adapters.saving.peft.peft_architecture import PeftArchitecture

_ARCHITECTURES = {}


def register_peft_architecture(architecture):
    """Adds a `keras_adapters.saving.PeftArchitecture`; one per backbone class.

    Args:
        architecture: the record (checked when it is created).

    Returns:
        `architecture`.

    Example:
    ```python
    keras_adapters.saving.register_peft_architecture(record)
    ```
    """
    if not isinstance(architecture, PeftArchitecture):
        raise ValueError(
            f"`architecture` must be a PeftArchitecture. Received: architecture={architecture!r}"
        )
    taken = [c.__name__ for c in architecture.backbone_classes if c in _ARCHITECTURES]
    if taken:
        raise ValueError(f"A PEFT architecture for {taken} is already registered.")
    for backbone_class in architecture.backbone_classes:
        _ARCHITECTURES[backbone_class] = architecture
    return architecture


def peft_architectures():
    """The registered records, one per architecture, in registration order."""
    return tuple(dict.fromkeys(_ARCHITECTURES.values()))


def get_peft_architecture(backbone):
    """The record for a backbone instance (its class or nearest base class)."""
    for cls in type(backbone).__mro__:
        if cls in _ARCHITECTURES:
            return _ARCHITECTURES[cls]
    supported = sorted(c.__name__ for c in _ARCHITECTURES)
    raise ValueError(
        f"Hugging Face PEFT files are not supported for {type(backbone).__name__}. Supported "
        f"backbones: {', '.join(supported)}. Add one with "
        "`keras_adapters.saving.register_peft_architecture`."
    )
