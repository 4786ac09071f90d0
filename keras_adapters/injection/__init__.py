"""The rewrite: plan and insert adapters, freeze the rest, and manage adapters."""

from keras_adapters.injection.adapted_model import AdaptedModel
from keras_adapters.injection.add_adapter import add_adapter
from keras_adapters.injection.lifecycle import delete_adapter
from keras_adapters.injection.lifecycle import disable_adapters
from keras_adapters.injection.lifecycle import eject_prefix
from keras_adapters.injection.lifecycle import enable_adapters
from keras_adapters.injection.lifecycle import list_adapters
from keras_adapters.injection.lifecycle import merge_adapters
from keras_adapters.injection.lifecycle import set_active_adapters
from keras_adapters.injection.lifecycle import unmerge_adapters
from keras_adapters.injection.trainable_report import TrainableReport
from keras_adapters.injection.trainable_report import trainable_report
from keras_adapters.injection.training_callbacks import training_callbacks
