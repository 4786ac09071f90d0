"""Tiny stand-ins for the MiniLM and SmolLM2 presets, so `keras-adapters train` runs in seconds.

Imported by tests/cli/conftest.py, and run as a script to drive the real
command line in a child process that a test can kill:

    python -m tests.support.tiny_cli train --data reviews.csv ...

The child swaps in the tiny models; `TINY_CLI_STEP_SECONDS` makes every
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


def tiny_causal_lm(name="tiny_gpt2", cache_dir=None, sequence_length=64):
    """Stands in for `load_causal_lm_preset`: a one-block GPT-2, 8 wide, on single bytes."""
    import keras
    import keras_hub
    from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

    keras.utils.set_random_seed(0)
    _, characters = bytes_to_unicode()
    vocabulary = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(characters)}}
    vocabulary["ab"] = len(vocabulary)  # the one merge
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=["a b"])
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=128,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return keras_hub.models.GPT2CausalLM(backbone, preprocessor=preprocessor)


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
    """Makes `train` build the tiny models (`setattr_` is `setattr` or a monkeypatch's).

    `--task causal-lm` takes `--backbone tiny_gpt2`.
    """
    from keras_adapters.cli import run_files

    setattr_(run_files, "build_classifier", tiny_classifier)
    import keras_adapters.assets

    setattr_(keras_adapters.assets, "list_backbone_presets", lambda: ["minilm_l6"])
    setattr_(keras_adapters.assets, "load_causal_lm_preset", tiny_causal_lm)
    setattr_(keras_adapters.assets, "list_causal_lm_presets", lambda: ["tiny_gpt2"])


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
