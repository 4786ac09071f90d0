"""Target matching: semantic slots, or patterns on `layer.path`.

Semantics (as in peft): a string is a regex that must match the whole path;
a list entry is a slot name of the backbone spec (`"query"`, `"ffn_output"`...)
or a path that must equal the layer's path or end with `"/" + entry`.
"""

import re

from keras_adapters.specs.backbone_spec import SLOTS


def matches(path, patterns, slot_ids=None, layer_id=None):
    """Whether a layer (its path, and whether it fills a named slot) matches."""
    if patterns is None:
        return False
    if isinstance(patterns, str):
        return path is not None and re.fullmatch(patterns, path) is not None
    for entry in patterns:
        if entry in SLOTS:
            if slot_ids is not None and layer_id in slot_ids.get(entry, ()):
                return True
        elif path is not None and (path == entry or path.endswith("/" + entry)):
            return True
    return False


def describe(patterns):
    return repr(patterns) if isinstance(patterns, str) else repr(list(patterns))


def no_match_error(argument, patterns, available, outside=()):
    """The error for patterns that select nothing, with a few valid paths."""
    shown = ", ".join(available[:8]) + (", ..." if len(available) > 8 else "")
    message = (
        f"`{argument}` matched no adapter-capable layer. Received: {argument}={describe(patterns)}. "
        f"Slots: {', '.join(SLOTS)}. Some available paths: {shown or '(none)'}."
    )
    if outside:
        message += (
            f" It matches {', '.join(outside[:4])}, which are nodes of a functional graph "
            "(outside the transformer blocks) and cannot be swapped in place."
        )
    return ValueError(message)
