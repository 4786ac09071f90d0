"""keras-adapters: parameter-efficient fine-tuning for Keras 3 and KerasHub.

Example:
```python
import keras_hub
import keras_adapters

classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2)
keras_adapters.add_adapter(classifier, keras_adapters.LoraConfig(rank=8), "sentiment")
```
"""

from keras_adapters import assets, attention, configs, data, layers, methods, models, specs
from keras_adapters.configs import (
    AdaLoraConfig,
    AdapterConfig,
    DoraConfig,
    FusionConfig,
    HoulsbyConfig,
    IA3Config,
    LoraConfig,
    MamConfig,
    ParallelConfig,
    PfeifferConfig,
    PrefixConfig,
    PromptConfig,
)
from keras_adapters.core.stack import Stack
from keras_adapters.distribution import adapter_layout_map
from keras_adapters.injection import (
    AdaptedModel,
    AdapterRank,
    TrainableReport,
    add_adapter,
    apply_gradient_hooks,
    combine_lora_adapters,
    config_for_budget,
    delete_adapter,
    disable_adapters,
    eject_prefix,
    enable_adapters,
    gradient_checkpointing,
    list_adapters,
    merge_adapters,
    plot_ranks,
    quantize_base,
    set_active_adapters,
    trainable_report,
    training_callbacks,
    unmerge_adapters,
)
from keras_adapters.methods.prompt.reserve_prompt_positions import reserve_prompt_positions
from keras_adapters.saving import load_adapter, load_peft_adapter, save_adapter, save_peft_adapter
from keras_adapters.version import __version__
