"""Saving: adapter-only files, Hugging Face PEFT files, and `.keras` round trips of adapted models."""

from keras_adapters.injection.adapted_model import AdaptedModel
from keras_adapters.saving.adapter_file import load_adapter, read_adapter_config, save_adapter
from keras_adapters.saving.peft import (
    PeftArchitecture,
    SavedModule,
    get_peft_architecture,
    load_peft_adapter,
    peft_architectures,
    register_peft_architecture,
    save_peft_adapter,
)
