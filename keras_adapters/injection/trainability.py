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


def module_parameters(module):
    """The weights of an adapter module that train: all but its `state_weights`.

    A module may list weights that its method updates itself (AdaLoRA's masks
    and step counter) as `state_weights`: they are saved with the adapter
    like the others, but never trained nor counted as parameters.
    """
    state = {id(v) for v in getattr(module, "state_weights", ())}
    return [v for v in module.weights if id(v) not in state]


def apply_trainability(context, state):
    """Sets `variable.trainable` on every variable of the model from `state`.

    Layers keep `trainable=True` (a frozen parent would hide its adapters'
    weights from `trainable_weights`); freezing is per variable. Adapter
    modules' `state_weights` never train.
    """
    model = context.root
    adapter_ids, active_ids = set(), set()
    training = set(state.training)
    for _, _, wrapper in context.wrappers():
        for name in wrapper.adapter_names:
            module = wrapper.get_adapter(name)
            adapter_ids |= {id(v) for v in module.weights}
            if name in training:
                active_ids |= {id(v) for v in module_parameters(module)}
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
