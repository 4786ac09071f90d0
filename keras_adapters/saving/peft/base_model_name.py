"""Checking `base_model_name_or_path` against the architecture of the model."""

import re

from keras_adapters.saving.peft.registry import peft_architectures


def architecture_named_by(name):
    """The registered architectures whose longest name hint starts a word of `name`.

    Hints are compared lower-case, at the start of `name` or after a
    character that is not a letter or digit: `"distilbert-base-uncased"`
    names DistilBERT (its hint is the longest found), `"deberta-v3"` names no
    architecture here (`"bert"` is inside a word). An empty tuple when no hint
    is found (a local path, a fine-tuned model's own name).
    """
    if not name:
        return ()
    lowered = name.lower()
    found = {}
    for architecture in peft_architectures():
        lengths = [len(h) for h in architecture.name_hints if re.search(_word_start(h), lowered)]
        if lengths:
            found[architecture] = max(lengths)
    if not found:
        return ()
    longest = max(found.values())
    return tuple(a for a, length in found.items() if length == longest)


def _word_start(hint):
    return rf"(?<![a-z0-9]){re.escape(hint)}"


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
