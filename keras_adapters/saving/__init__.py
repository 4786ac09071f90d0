"""Saving: adapter-only files, and `.keras` round trips of adapted models."""

from keras_adapters.injection.adapted_model import AdaptedModel
from keras_adapters.saving.adapter_file import load_adapter, read_adapter_config, save_adapter
