"""keras-adapters: parameter-efficient fine-tuning for Keras 3 and KerasHub."""

__version__ = "0.1.0"
