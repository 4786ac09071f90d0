"""Tiny BERT text classifiers with a tokenizer, and helpers to compare model state."""

import keras
import keras_hub
import numpy as np

from keras_adapters.layers import AdapterWrapper, LoraWrapper
from keras_adapters.planning.model_context import ModelContext
from tests.support.tiny_models import randomize_adapters, weights_by_path

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "a", "the", "film", "movie", "plot", "was", "and", "not",
    "gripping", "funny", "great", "dull", "boring", "slow", "bad", "good",
    "!", ",", ".",
]  # fmt: skip
TEXTS = [
    "a gripping, funny film",
    "the plot was dull and slow.",
    "Great movie!",
    "not good , not bad",
    "unknown words only",
    "Naïve café: a GREAT film…",
    "",
]
LABEL_NAMES = ["negative", "positive"]


def make_text_classifier(seed=0, preprocessor=True, dropout=0.1):
    """A 2-layer BERT classifier on `VOCABULARY` whose logits depend on the text.

    BERT's initializer (stddev 0.02) makes a tiny model output nearly the
    same logits for every text; kernels and embeddings get scale 0.5 here,
    so a tokenisation or adapter mistake shows in the logits and labels.
    `dropout` is the backbone's and the head's (KerasHub's default 0.1).
    """
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
        dropout=dropout,
    )
    text_preprocessor = None
    if preprocessor:
        tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
        text_preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=16
        )
    classifier = keras_hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=text_preprocessor, dropout=dropout
    )
    rng = np.random.default_rng(seed)
    for variable in classifier.weights:
        if variable.path.endswith(("kernel", "embeddings")):
            variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    return classifier


def randomized(classifier, seed=2):
    """Gives every adapter weight random values (LoRA's B starts at zero)."""
    randomize_adapters(classifier, seed=seed, scale=0.5)
    return classifier


def predict_logits(classifier, texts=TEXTS):
    return np.asarray(classifier.predict(texts, verbose=0), dtype="float32")


def snapshot(classifier):
    """Everything an export must leave untouched."""
    import keras_adapters

    wrappers = []
    if any(isinstance(layer, AdapterWrapper) for layer in classifier._flatten_layers()):
        for _, _, wrapper in ModelContext(classifier).wrappers():
            merged = wrapper.merged_adapters if isinstance(wrapper, LoraWrapper) else None
            wrappers.append((wrapper.path, wrapper.active_adapters, merged))
    try:
        adapters = keras_adapters.list_adapters(classifier)
    except ValueError:
        adapters = None
    return {
        "weights": weights_by_path(classifier),
        "trainable": [v.trainable for v in classifier.weights],
        "adapters": adapters,
        "wrappers": wrappers,
    }


def assert_unchanged(before, after):
    assert after["adapters"] == before["adapters"]
    assert after["wrappers"] == before["wrappers"]
    assert after["trainable"] == before["trainable"]
    assert after["weights"].keys() == before["weights"].keys()
    for name, value in before["weights"].items():
        np.testing.assert_array_equal(after["weights"][name], value, err_msg=name)


def call_logits(classifier, texts=TEXTS):
    """Eager logits (no `predict_function` to trace after each adapter switch)."""
    inputs = classifier.preprocessor(texts)
    return np.asarray(classifier(inputs, training=False), dtype="float32")


def verify_concurrently(jobs):
    """Runs `verify_saved_model(**kwargs)` for each `{key: kwargs}` at once.

    Each call spends most of its time importing TensorFlow in a fresh
    process; two side by side (one per core here) keep the suite fast.
    """
    from concurrent.futures import ThreadPoolExecutor

    import keras_adapters.export

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            key: pool.submit(keras_adapters.export.verify_saved_model, **kwargs)
            for key, kwargs in jobs.items()
        }
        return {key: future.result() for key, future in futures.items()}
