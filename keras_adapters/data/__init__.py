"""Labelled text for text classification (fixed de-duplicated splits) and tagged sentences for token classification."""

from keras_adapters.data.length_bucketed_dataset import length_bucketed_dataset
from keras_adapters.data.load_text_classification import (
    list_dataset_presets,
    load_text_classification,
)
from keras_adapters.data.load_token_classification import (
    list_token_classification_presets,
    load_token_classification,
)
from keras_adapters.data.read_conll import read_conll
from keras_adapters.data.split import DeduplicatedSplit, deduplicated_split, normalize_text
from keras_adapters.data.tagged_split import TaggedSplit
from keras_adapters.data.text_classification_data import TextClassificationData
from keras_adapters.data.text_split import TextSplit
from keras_adapters.data.token_classification_data import (
    TokenClassificationData,
    tag_vocabulary,
)
from keras_adapters.data.token_classification_dataset import token_classification_dataset

__all__ = [
    "DeduplicatedSplit",
    "TaggedSplit",
    "TextClassificationData",
    "TextSplit",
    "TokenClassificationData",
    "deduplicated_split",
    "length_bucketed_dataset",
    "list_dataset_presets",
    "list_token_classification_presets",
    "load_text_classification",
    "load_token_classification",
    "normalize_text",
    "read_conll",
    "tag_vocabulary",
    "token_classification_dataset",
]
