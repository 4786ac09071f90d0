"""Backbone classes that keras-adapters adds to KerasHub's."""

from keras_adapters.models.exact_gelu_bert_backbone import ExactGeluBertBackbone
from keras_adapters.models.masked_mean_pooling import MaskedMeanPooling
from keras_adapters.models.mean_pooled_text_classifier import MeanPooledTextClassifier
from keras_adapters.models.prompt_response_preprocessor import PromptResponsePreprocessor

__all__ = [
    "ExactGeluBertBackbone",
    "MaskedMeanPooling",
    "MeanPooledTextClassifier",
    "PromptResponsePreprocessor",
]
