"""Models and task helpers that keras-adapters adds to KerasHub's."""

from keras_adapters.models.bio_entities import bio_entities
from keras_adapters.models.entity_scores import EntityScores, entity_scores
from keras_adapters.models.exact_gelu_bert_backbone import ExactGeluBertBackbone
from keras_adapters.models.label_scores import LabelScores
from keras_adapters.models.masked_mean_pooling import MaskedMeanPooling
from keras_adapters.models.mean_pooled_text_classifier import MeanPooledTextClassifier
from keras_adapters.models.prompt_response_preprocessor import PromptResponsePreprocessor
from keras_adapters.models.score_label_words import score_label_words
from keras_adapters.models.token_classifier import TokenClassifier
from keras_adapters.models.token_classifier_preprocessor import TokenClassifierPreprocessor

__all__ = [
    "EntityScores",
    "ExactGeluBertBackbone",
    "LabelScores",
    "MaskedMeanPooling",
    "MeanPooledTextClassifier",
    "PromptResponsePreprocessor",
    "TokenClassifier",
    "TokenClassifierPreprocessor",
    "bio_entities",
    "entity_scores",
    "score_label_words",
]
