"""AdapterFusion (Pfeiffer et al. 2021): attention over trained, frozen bottleneck adapters."""

from keras_adapters.methods.adapter_method import AdapterMethod
from keras_adapters.methods.fusion.fusion_config import FusionConfig
from keras_adapters.methods.fusion.plan_fusion import build_fusion_module, find_fusion_sites
from keras_adapters.methods.registry import register_method

FUSION = register_method(
    AdapterMethod(
        config_class=FusionConfig, find_sites=find_fusion_sites, build_module=build_fusion_module
    )
)
