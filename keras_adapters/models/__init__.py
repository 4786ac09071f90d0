"""Backbone classes that keras-adapters adds to KerasHub's."""

from keras_adapters.models.exact_gelu_bert_backbone import ExactGeluBertBackbone

__all__ = ["ExactGeluBertBackbone"]
