"""DoRA (Liu et al. 2024): LoRA's update for the direction, a learned magnitude per output."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.dora.dora_config import DoraConfig
from keras_adapters.methods.dora.plan_dora import build_dora_module, find_dora_sites
from keras_adapters.methods.registry import register_method

DORA = register_method(
    AdapterMethod(
        config_class=DoraConfig, find_sites=find_dora_sites, build_module=build_dora_module
    )
)
