"""Labelled text for text classification, with fixed de-duplicated splits."""

from keras_adapters.data.load_text_classification import list_dataset_presets
from keras_adapters.data.load_text_classification import (
    load_text_classification,
)
from keras_adapters.data.split import DeduplicatedSplit
from keras_adapters.data.split import deduplicated_split
from keras_adapters.data.split import normalize_text
from keras_adapters.data.text_classification_data import TextClassificationData
from keras_adapters.data.text_split import TextSplit

__all__ = [
    "DeduplicatedSplit",
    "TextClassificationData",
    "TextSplit",
    "deduplicated_split",
    "list_dataset_presets",
    "load_text_classification",
    "normalize_text",
]
