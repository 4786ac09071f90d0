"""Method configs: plain data describing one adapter."""

from keras_adapters.configs.adapter_config import AdapterConfig
from keras_adapters.configs.adapter_config import config_from_dict
from keras_adapters.configs.adapter_config import registered_methods
from keras_adapters.configs.bottleneck_config import BottleneckConfig
from keras_adapters.configs.bottleneck_config import HoulsbyConfig
from keras_adapters.configs.bottleneck_config import ParallelConfig
from keras_adapters.configs.bottleneck_config import PfeifferConfig
from keras_adapters.configs.lora_config import LoraConfig
from keras_adapters.configs.prefix_config import PrefixConfig
