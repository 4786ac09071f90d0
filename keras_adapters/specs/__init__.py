"""Backbone specs: architecture knowledge as data."""

from keras_adapters.specs.backbone_spec import SLOTS
from keras_adapters.specs.backbone_spec import BackboneSpec
from keras_adapters.specs.registry import get_backbone_spec
from keras_adapters.specs.registry import register_backbone_spec
from keras_adapters.specs.registry import supported_backbones
from keras_adapters.specs.transformer_encoder_specs import TRANSFORMER_ENCODER_FFN_CHAIN
from keras_adapters.specs.transformer_encoder_specs import TRANSFORMER_ENCODER_SLOTS
