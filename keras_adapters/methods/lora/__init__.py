"""LoRA (Hu et al. 2021) and rsLoRA: low-rank updates of projections."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.lora.lora_config import LoraConfig
from keras_adapters.methods.lora.plan_lora import build_lora_module, find_lora_sites
from keras_adapters.methods.registry import register_method

LORA = register_method(
    AdapterMethod(
        config_class=LoraConfig, find_sites=find_lora_sites, build_module=build_lora_module
    )
)
