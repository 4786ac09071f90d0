"""A tiny stand-in for the MiniLM preset so CLI tests run in seconds."""

import csv

import keras_hub
import pytest

from keras_adapters.cli import run_files
from keras_adapters.models import MeanPooledTextClassifier

WORDS = [
    "good",
    "great",
    "fun",
    "moving",
    "bad",
    "dull",
    "boring",
    "awful",
    "film",
    "plot",
    "a",
    "the",
]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


def tiny_classifier(backbone_preset, sequence_length, num_classes, cache_dir=None):
    import keras

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=32,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return MeanPooledTextClassifier(backbone, num_classes=num_classes, preprocessor=preprocessor)


@pytest.fixture
def tiny_preset(monkeypatch):
    monkeypatch.setattr(run_files, "build_classifier", tiny_classifier)
    monkeypatch.setattr("keras_adapters.assets.list_backbone_presets", lambda: ["minilm_l6"])


@pytest.fixture
def sentiment_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    positive, negative = WORDS[:4], WORDS[4:8]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for i in range(60):
            words = positive if i % 2 else negative
            text = f"a {words[i % 4]} {words[(i // 2) % 4]} film {i}"
            writer.writerow([text, "pos" if i % 2 else "neg"])
    return path
