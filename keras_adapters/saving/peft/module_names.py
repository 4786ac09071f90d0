"""Hugging Face module paths, and how PEFT matches names against them.

PEFT's semantics (`peft.tuners.tuners_utils.check_target_module_exists`): a
string is a regex that must match the whole module path; a list entry
matches a path equal to it, or ending with `"." + entry`. `layers_to_transform`
applies to list entries only, and reads the layer index after the last
`.<name>.<digits>.` of the path (or after `.<layers_pattern>.`). An entry
equal to the whole path matches whatever `layers_to_transform` says.
"""

import re


def check_module_path(argument, path):
    """Raises unless `path` is a dotted module path such as `"encoder.layer"`."""
    parts = path.split(".") if isinstance(path, str) else [None]
    if not all(isinstance(p, str) and (p.isidentifier() or p.isdigit()) for p in parts):
        raise ValueError(
            f"`{argument}` must be a dotted module path such as 'self_attn.q_proj'. "
            f"Received: {argument}={path!r}"
        )
    return path


def suffix_matches(path, entry):
    """PEFT's list semantics: `path` is `entry` or ends with `"." + entry`."""
    return path == entry or path.endswith("." + entry)


def matches_target(path, target_modules, layers_to_transform=None, layers_pattern=None):
    """Whether PEFT puts a LoRA module on the module at `path`.

    Args:
        path: module path in the Hugging Face model, e.g.
            `"model.layers.0.self_attn.q_proj"`.
        target_modules: a regex string or a list of names.
        layers_to_transform: an int, a list of ints, or `None`.
        layers_pattern: a name, a list of names, or `None`.
    """
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, path) is not None
    if path in target_modules:
        return True
    if not any(suffix_matches(path, entry) for entry in target_modules):
        return False
    if layers_to_transform is None or layers_to_transform == []:
        return True
    index = layer_index(path, layers_pattern)
    if index is None:
        return False
    if isinstance(layers_to_transform, int):
        return index == layers_to_transform
    return index in layers_to_transform


def layer_index(path, layers_pattern=None):
    """The block index PEFT reads from `path`, or `None`."""
    patterns = [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern
    if not patterns:
        found = re.match(r".*\.[^.]*\.(\d+)\.", path)
    else:
        found = None
        for pattern in patterns:
            found = re.match(rf".*\.{pattern}\.(\d+)\.", path)
            if found is not None:
                break
    return None if found is None else int(found.group(1))


def is_excluded(path, exclude_modules):
    """PEFT's `exclude_modules`: same forms as `target_modules`, no layer filter."""
    if not exclude_modules:
        return False
    if isinstance(exclude_modules, str):
        return re.fullmatch(exclude_modules, path) is not None
    return any(suffix_matches(path, entry) for entry in exclude_modules)


def covers_module(path, modules_to_save, strict=False):
    """Whether PEFT saves the module at `path` for these `modules_to_save` entries.

    PEFT wraps every module whose path ends with an entry and saves all of
    its parameters, so a module is covered if it or a module containing it
    ends with an entry. Older PEFT versions compare with a plain `endswith`
    (`"classifier"` also wraps DistilBERT's `pre_classifier`); `strict`
    keeps only matches on a `.` boundary, which every version makes.
    """
    parts = path.split(".")
    ancestors = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
    match = suffix_matches if strict else str.endswith
    return any(match(a, entry) for a in ancestors for entry in modules_to_save or ())
