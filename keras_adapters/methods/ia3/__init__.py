"""IA3 (Liu et al. 2022): learned vectors that rescale projections' inputs or outputs."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.ia3.ia3_config import IA3Config
from keras_adapters.methods.ia3.plan_ia3 import build_ia3_module, find_ia3_sites
from keras_adapters.methods.registry import register_method

IA3 = register_method(
    AdapterMethod(config_class=IA3Config, find_sites=find_ia3_sites, build_module=build_ia3_module)
)
