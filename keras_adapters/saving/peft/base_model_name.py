"""Checking `base_model_name_or_path` against the architecture of the model."""

from keras_adapters.saving.peft.registry import peft_architectures


def architecture_named_by(name):
    """The registered architectures whose longest name hint occurs in `name` (lower-cased).

    `"distilbert-base-uncased"` names DistilBERT, not BERT: the longest hint
    wins. An empty tuple when no hint occurs (a local path, a fine-tuned
    model's own name).
    """
    if not name:
        return ()
    lowered = name.lower()
    found = {
        architecture: max(len(h) for h in architecture.name_hints if h in lowered)
        for architecture in peft_architectures()
        if any(h in lowered for h in architecture.name_hints)
    }
    if not found:
        return ()
    longest = max(found.values())
    return tuple(a for a, length in found.items() if length == longest)


def check_base_model_name(name, architecture, source):
    """Raises if `name` names another architecture than `architecture`."""
    named = architecture_named_by(name)
    if named and architecture not in named:
        raise ValueError(
            f"{source}: the adapter was trained on base_model_name_or_path={name!r}, a "
            f"{'/'.join(a.name for a in named)} model; this model is a {architecture.name} "
            f"({', '.join(c.__name__ for c in architecture.backbone_classes)}). Load it into the "
            "matching KerasHub model."
        )
