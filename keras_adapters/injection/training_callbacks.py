"""`training_callbacks`: the Keras callbacks the active adapters' methods need in `fit`."""

from keras_adapters.injection.adapter_state import require_state
from keras_adapters.methods.registry import method_for


def training_callbacks(model):
    """Returns the callbacks that the model's active adapters need during `fit`.

    Methods with training-time behaviour (a budget schedule, a reallocation
    step) provide it as Keras callbacks through their
    `keras_adapters.methods.AdapterMethod`; methods without any contribute
    nothing, so passing this list is always safe.

    Args:
        model: a model with adapters.

    Returns:
        A list of `keras.callbacks.Callback`.

    Example:
    ```python
    classifier.fit(dataset, epochs=1, callbacks=keras_adapters.training_callbacks(classifier))
    ```
    """
    state = require_state(model)
    callbacks = []
    for name in state.active if state.enabled else ():
        config = state.configs[name]
        method = method_for(config)
        if method.callbacks is not None:
            callbacks.extend(method.callbacks(model, name, config))
    return callbacks
