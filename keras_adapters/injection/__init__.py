"""The rewrite: match targets, wrap in place, freeze, and manage adapters."""

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
