"""Method configs: plain data describing one adapter.

A public namespace: each config lives with its method in
`keras_adapters.methods`; the base class in `keras_adapters.core`.
"""

from keras_adapters.core.adapter_config import AdapterConfig
from keras_adapters.methods.adalora.adalora_config import AdaLoraConfig
from keras_adapters.methods.bottleneck.bottleneck_config import BottleneckConfig
from keras_adapters.methods.bottleneck.houlsby_config import HoulsbyConfig
from keras_adapters.methods.bottleneck.parallel_config import ParallelConfig
from keras_adapters.methods.bottleneck.pfeiffer_config import PfeifferConfig
from keras_adapters.methods.dora.dora_config import DoraConfig
from keras_adapters.methods.fusion.fusion_config import FusionConfig
from keras_adapters.methods.ia3.ia3_config import IA3Config
from keras_adapters.methods.lora.lora_config import LoraConfig
from keras_adapters.methods.lora.low_rank_config import LowRankConfig
from keras_adapters.methods.mam.mam_config import MamConfig
from keras_adapters.methods.prefix.prefix_config import PrefixConfig
from keras_adapters.methods.prompt.prompt_config import PromptConfig
from keras_adapters.methods.registry import config_from_dict, registered_methods
