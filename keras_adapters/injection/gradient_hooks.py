"""Gradient hooks: methods that act on the gradients of every training step."""

import functools

from keras_adapters.core.gradient_map import GradientMap
from keras_adapters.injection.adapter_state import get_state
from keras_adapters.methods.registry import method_for
from keras_adapters.planning.model_context import ModelContext

_APPLICATIONS = [0]  # calls of `apply_gradient_hooks`, so a custom `train_step` can be checked


def gradient_hooks(model):
    """The gradient hooks of the adapters `model` trains (active, enabled, unmerged, not frozen).

    Returns:
        A list of `hook(gradient_map)` callables, empty when no active
        adapter's method has a `gradient_hook` (then `fit` runs Keras' own
        `train_step`).
    """
    state = get_state(model)
    if state is None or not state.enabled:
        return []
    needed = [
        (name, state.configs[name])
        for name in state.training
        if method_for(state.configs[name]).gradient_hook is not None
    ]
    if not needed:
        return []
    context = ModelContext(model)
    return [
        functools.partial(
            method_for(config).gradient_hook,
            [wrapper.get_adapter(name) for wrapper in context.wrappers_of(name)],
            config,
        )
        for name, config in needed
    ]


def apply_gradient_hooks(model, variables, gradients):
    """Runs the gradient hooks of `model`'s active adapters on one step's gradients.

    `fit` does this by itself (the adapted model's `train_step`); call it
    from a `train_step` of your own, between computing the gradients and
    applying them, so that methods such as AdaLoRA keep working there.

    Args:
        model: an adapted model.
        variables: the variables being trained.
        gradients: their gradients (of the unscaled loss), in the same order.

    Returns:
        The gradients to apply, in the same order (a hook may replace some).

    Example:
    ```python
    gradients = tape.gradient(loss, model.trainable_weights)
    gradients = keras_adapters.apply_gradient_hooks(model, model.trainable_weights, gradients)
    model.optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    ```
    """
    _APPLICATIONS[0] += 1
    return run_gradient_hooks(gradient_hooks(model), variables, gradients)


def hook_applications():
    """How many times `apply_gradient_hooks` ran in this process."""
    return _APPLICATIONS[0]


def run_gradient_hooks(hooks, variables, gradients):
    """Calls each hook on a `GradientMap` of the gradients; returns the gradients after them."""
    gradient_map = GradientMap(variables, gradients)
    for hook in hooks:
        hook(gradient_map)
    return gradient_map.gradients
