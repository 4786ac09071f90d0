"""AdaLoRA (Zhang et al. 2023): LoRA in SVD form with an adaptive rank budget."""

from keras_adapters.methods.adalora.adalora_config import AdaLoraConfig
from keras_adapters.methods.adalora.plan_adalora import build_adalora_module, find_adalora_sites
from keras_adapters.methods.adalora.rank_allocation import allocate_ranks
from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.registry import register_method

ADALORA = register_method(
    AdapterMethod(
        config_class=AdaLoraConfig,
        find_sites=find_adalora_sites,
        build_module=build_adalora_module,
        gradient_hook=allocate_ranks,
    )
)
