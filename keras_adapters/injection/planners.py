"""Method config class -> the function that plans its insertions."""

from keras_adapters.configs.bottleneck_config import BottleneckConfig
from keras_adapters.configs.lora_config import LoraConfig
from keras_adapters.configs.prefix_config import PrefixConfig
from keras_adapters.injection.plan_bottleneck import plan_bottleneck
from keras_adapters.injection.plan_lora import plan_lora
from keras_adapters.injection.plan_prefix import plan_prefix

PLANNERS = (
    (LoraConfig, plan_lora),
    (BottleneckConfig, plan_bottleneck),
    (PrefixConfig, plan_prefix),
)


def planner_for(config):
    for config_class, planner in PLANNERS:
        if isinstance(config, config_class):
            return planner
    valid = ", ".join(f"keras_adapters.{c.__name__}" for c, _ in PLANNERS)
    raise ValueError(f"`config` must be a method config ({valid}). Received: config={config!r}")
