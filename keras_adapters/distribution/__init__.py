"""Multi-device training helpers for `keras.distribution`."""

from keras_adapters.distribution.adapter_layout_map import adapter_layout_map
