"""Prefix tuning (Li & Liang 2021): learned keys and values in every attention."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.prefix.plan_prefix import build_prefix_module, find_prefix_sites
from keras_adapters.methods.prefix.prefix_config import PrefixConfig
from keras_adapters.methods.registry import register_method

PREFIX = register_method(
    AdapterMethod(
        config_class=PrefixConfig, find_sites=find_prefix_sites, build_module=build_prefix_module
    )
)
