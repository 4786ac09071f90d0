"""keras-adapters: parameter-efficient fine-tuning for Keras 3 and KerasHub.

Example:
```python
import keras_hub
import keras_adapters

classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2)
keras_adapters.add_adapter(classifier, keras_adapters.LoraConfig(rank=8), "sentiment")
```
"""

from keras_adapters import assets
from keras_adapters import attention
from keras_adapters import configs
from keras_adapters import data
from keras_adapters import layers
from keras_adapters import methods
from keras_adapters import models
from keras_adapters import specs
from keras_adapters.configs import AdapterConfig
from keras_adapters.configs import HoulsbyConfig
from keras_adapters.configs import LoraConfig
from keras_adapters.configs import ParallelConfig
from keras_adapters.configs import PfeifferConfig
from keras_adapters.configs import PrefixConfig
from keras_adapters.injection import AdaptedModel
from keras_adapters.injection import TrainableReport
from keras_adapters.injection import add_adapter
from keras_adapters.injection import delete_adapter
from keras_adapters.injection import disable_adapters
from keras_adapters.injection import eject_prefix
from keras_adapters.injection import enable_adapters
from keras_adapters.injection import list_adapters
from keras_adapters.injection import merge_adapters
from keras_adapters.injection import set_active_adapters
from keras_adapters.injection import trainable_report
from keras_adapters.injection import training_callbacks
from keras_adapters.injection import unmerge_adapters
from keras_adapters.saving import load_adapter
from keras_adapters.saving import save_adapter
from keras_adapters.version import __version__
