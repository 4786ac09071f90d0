"""Attention specs: how adapters reach inside each attention layer class.

Importing this package registers the built-in records.
"""

from keras_adapters.attention import keras_attention_specs as _keras  # noqa: F401 (registers)
from keras_adapters.attention import keras_hub_attention_specs as _keras_hub  # noqa: F401
from keras_adapters.attention.attention_spec import AttentionSpec
from keras_adapters.attention.registry import (
    find_attention_spec,
    get_attention_spec,
    register_attention_spec,
    supported_attention_classes,
)
