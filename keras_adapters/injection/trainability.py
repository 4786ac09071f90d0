"""Which variables train: the active adapters and the modules to save, nothing else."""

from keras_adapters.planning.targets import matches, no_match_error


def modules_to_save_layers(model, patterns):
    """Layers of `model` matched by a `modules_to_save` pattern (may raise)."""
    if not patterns:
        return []
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=False):
        if layer.path and id(layer) not in seen and matches(layer.path, patterns):
            seen.add(id(layer))
            found.append(layer)
    if not found:
        paths = [layer.path for layer in model._flatten_layers(include_self=False) if layer.path]
        raise no_match_error("modules_to_save", patterns, paths)
    return found


def apply_trainability(context, state):
    """Sets `variable.trainable` on every variable of the model from `state`.

    Layers keep `trainable=True` (a frozen parent would hide its adapters'
    weights from `trainable_weights`); freezing is per variable.
    """
    model = context.root
    adapter_ids, active_ids = set(), set()
    training = set(state.training)
    for _, _, wrapper in context.wrappers():
        for name in wrapper.adapter_names:
            ids = {id(v) for v in wrapper.get_adapter(name).weights}
            adapter_ids |= ids
            if name in training:
                active_ids |= ids
    keep_ids = set()
    for name in (n for n in state.active if n not in state.frozen):
        for layer in modules_to_save_layers(model, state.configs[name].modules_to_save):
            keep_ids |= {id(v) for v in layer.weights}
    for variable in model.weights:
        key = id(variable)
        if key in adapter_ids:
            variable.trainable = key in active_ids
        elif key in keep_ids:
            variable.trainable = state.original_trainable.get(key, True)
        else:
            variable.trainable = False


def restore_trainability(model, state):
    for variable in model.weights:
        variable.trainable = state.original_trainable.get(id(variable), variable.trainable)
