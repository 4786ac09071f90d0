"""`GradientMap`: the gradients of one training step, looked up by variable."""


class GradientMap:
    """The gradients `train_step` computed, keyed by the variable they belong to.

    Methods with a gradient hook (`keras_adapters.methods.AdapterMethod`)
    receive one per training step, between the computation of the gradients
    and their application by the optimizer. Hooks run while the step is being
    traced, so they read and assign variables with `keras.ops` only.

    Args:
        variables: the trainable variables, in the order of `gradients`.
        gradients: their gradients (`None` where a variable got none).

    Example:
    ```python
    def hook(modules, config, gradients):
        for module in modules:
            gradient = gradients.get(module.kernel)  # None if it got no gradient
    ```
    """

    def __init__(self, variables, gradients):
        variables, gradients = list(variables), list(gradients)
        if len(variables) != len(gradients):
            raise ValueError(
                "`variables` and `gradients` must have the same length. "
                f"Received: {len(variables)} variables, {len(gradients)} gradients"
            )
        self._variables = variables
        self._gradients = gradients
        self._index = {id(v): i for i, v in enumerate(variables)}

    def get(self, variable):
        """The gradient of `variable`, or `None` (not trainable, or no gradient)."""
        index = self._index.get(id(variable))
        return None if index is None else self._gradients[index]

    def set(self, variable, gradient):
        """Replaces the gradient the optimizer will apply to `variable`."""
        if id(variable) not in self._index:
            raise KeyError(f"{variable.path!r} is not one of the trained variables.")
        self._gradients[self._index[id(variable)]] = gradient

    @property
    def variables(self):
        return list(self._variables)

    @property
    def gradients(self):
        """The gradients, in the order of `variables`, with any replacements."""
        return list(self._gradients)
