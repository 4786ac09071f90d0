"""Hugging Face PEFT LoRA adapters: loaded into keras-adapters LoRA, written in PEFT's layout.

Which Hugging Face module of which block each KerasHub layer holds is data:
one `PeftArchitecture` record per architecture (`architectures.py`).
"""

from keras_adapters.saving.peft import architectures as _architectures  # noqa: F401 (registers)
from keras_adapters.saving.peft.load_peft_adapter import load_peft_adapter
from keras_adapters.saving.peft.peft_architecture import PeftArchitecture
from keras_adapters.saving.peft.registry import (
    get_peft_architecture,
    peft_architectures,
    register_peft_architecture,
)
from keras_adapters.saving.peft.save_peft_adapter import save_peft_adapter
from keras_adapters.saving.peft.saved_module import SavedModule
