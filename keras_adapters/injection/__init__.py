"""The rewrite: plan and insert adapters, freeze the rest, and manage adapters."""

from keras_adapters.injection.adapted_model import AdaptedModel
from keras_adapters.injection.adapter_rank import AdapterRank
from keras_adapters.injection.add_adapter import add_adapter
from keras_adapters.injection.combine_lora_adapters import combine_lora_adapters
from keras_adapters.injection.config_for_budget import config_for_budget
from keras_adapters.injection.gradient_checkpointing import gradient_checkpointing
from keras_adapters.injection.gradient_hooks import apply_gradient_hooks
from keras_adapters.injection.lifecycle import (
    delete_adapter,
    disable_adapters,
    eject_prefix,
    enable_adapters,
    list_adapters,
    merge_adapters,
    set_active_adapters,
    unmerge_adapters,
)
from keras_adapters.injection.quantize_base import quantize_base
from keras_adapters.injection.rank_plot import plot_ranks
from keras_adapters.injection.trainable_report import TrainableReport, trainable_report
from keras_adapters.injection.training_callbacks import training_callbacks
