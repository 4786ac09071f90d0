"""A tiny stand-in for the MiniLM preset, so `keras-adapters train` runs in seconds.

Imported by tests/cli/conftest.py, and run as a script to drive the real
command line in a child process that a test can kill:

    python -m tests.support.tiny_cli train --data reviews.csv ...

The child swaps in the tiny classifier; `TINY_CLI_STEP_SECONDS` makes every
training step last at least that long, so a test can kill it mid-epoch.
"""

import csv
import os
import sys

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
    """Stands in for `run_files.build_classifier`: a one-block BERT, 8 wide, seeded."""
    import keras
    import keras_hub

    from keras_adapters.models import MeanPooledTextClassifier

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


def write_sentiment_csv(path, rows=60):
    """Short reviews, alternately negative and positive, in columns `review`, `sentiment`."""
    positive, negative = WORDS[:4], WORDS[4:8]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for i in range(rows):
            words = positive if i % 2 else negative
            text = f"a {words[i % 4]} {words[(i // 2) % 4]} film {i}"
            writer.writerow([text, "pos" if i % 2 else "neg"])
    return path


def use_tiny_preset(setattr_):
    """Makes `train` build `tiny_classifier` (`setattr_` is `setattr` or a monkeypatch's)."""
    from keras_adapters.cli import run_files

    setattr_(run_files, "build_classifier", tiny_classifier)
    import keras_adapters.assets

    setattr_(keras_adapters.assets, "list_backbone_presets", lambda: ["minilm_l6"])


def _slow_steps(seconds):
    import time

    from keras_adapters.cli.training_curve import StepLog

    record = StepLog.on_train_batch_end

    def slowed(self, batch, logs=None):
        record(self, batch, logs)
        time.sleep(seconds)

    StepLog.on_train_batch_end = slowed


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_adapters.cli.main import main

    use_tiny_preset(setattr)
    if os.environ.get("TINY_CLI_STEP_SECONDS"):
        _slow_steps(float(os.environ["TINY_CLI_STEP_SECONDS"]))
    sys.exit(main(sys.argv[1:]))
