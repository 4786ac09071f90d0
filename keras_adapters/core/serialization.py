"""One decorator that registers a layer for Keras serialization."""

import keras


def register(cls):
    """Registers `cls` as `keras_adapters>ClassName` for `.keras` files."""
    return keras.saving.register_keras_serializable(package="keras_adapters")(cls)
