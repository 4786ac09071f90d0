"""Labelled text for text classification, with fixed de-duplicated splits."""

from keras_adapters.data.length_bucketed_dataset import length_bucketed_dataset
from keras_adapters.data.load_text_classification import (
    list_dataset_presets,
    load_text_classification,
)
from keras_adapters.data.split import DeduplicatedSplit, deduplicated_split, normalize_text
from keras_adapters.data.text_classification_data import TextClassificationData
from keras_adapters.data.text_split import TextSplit

__all__ = [
    "DeduplicatedSplit",
    "TextClassificationData",
    "TextSplit",
    "deduplicated_split",
    "length_bucketed_dataset",
    "list_dataset_presets",
    "load_text_classification",
    "normalize_text",
]
