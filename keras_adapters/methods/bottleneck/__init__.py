"""Bottleneck adapters: Pfeiffer, Houlsby and (scaled) parallel placements."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.bottleneck.houlsby_config import HoulsbyConfig
from keras_adapters.methods.bottleneck.parallel_config import ParallelConfig
from keras_adapters.methods.bottleneck.pfeiffer_config import PfeifferConfig
from keras_adapters.methods.bottleneck.plan_bottleneck import (
    build_bottleneck_module,
    find_bottleneck_sites,
)
from keras_adapters.methods.registry import register_method

PFEIFFER, HOULSBY, PARALLEL = (
    register_method(
        AdapterMethod(
            config_class=config_class,
            find_sites=find_bottleneck_sites,
            build_module=build_bottleneck_module,
        )
    )
    for config_class in (PfeifferConfig, HoulsbyConfig, ParallelConfig)
)
