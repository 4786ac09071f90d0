"""The MAM adapter (He et al. 2022): prefix tuning and a scaled parallel adapter as one adapter."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.mam.mam_config import MamConfig
from keras_adapters.methods.mam.plan_mam import build_mam_module, find_mam_sites
from keras_adapters.methods.registry import register_method

MAM = register_method(
    AdapterMethod(config_class=MamConfig, find_sites=find_mam_sites, build_module=build_mam_module)
)
