"""`length_bucketed_dataset`: each text once, cut to a multiple of the width, same model outputs."""

import keras_hub
import numpy as np
import pytest

from keras_adapters.data import length_bucketed_dataset
from tests.export.text_classifiers import VOCABULARY, make_text_classifier

WORDS = [w for w in VOCABULARY if w.isalpha()]


def _texts(count, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 30))) for _ in range(count)]


def _preprocessor(sequence_length=40):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
    return keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )


def test_every_text_once_cut_to_its_width_group():
    texts, labels = _texts(50), list(range(50))
    preprocessor = _preprocessor()
    full = {t: preprocessor(t) for t in texts}
    seen = []
    for inputs, batch_labels in length_bucketed_dataset(
        texts, labels, preprocessor, 8, width_multiple=16
    ):
        width = inputs["token_ids"].shape[1]
        assert width in (16, 32, 40)
        lengths = np.asarray(inputs["padding_mask"]).sum(axis=1)
        assert lengths.max() > (16 if width == 32 else 32 if width == 40 else 0)
        for row, label in enumerate(np.asarray(batch_labels)):
            text = texts[label]
            seen.append(label)
            for key, value in full[text].items():
                np.testing.assert_array_equal(
                    np.asarray(inputs[key])[row], np.asarray(value)[:width]
                )
    assert sorted(seen) == labels


def test_full_batches_pad_rows_with_zero_weight_and_keep_every_example():
    texts = _texts(50, seed=1)
    batches = list(
        length_bucketed_dataset(texts, list(range(1, 51)), _preprocessor(), 8, full_batches=True)
    )
    assert all(inputs["token_ids"].shape[0] == 8 for inputs, _, _ in batches)
    labels = np.concatenate([np.asarray(y) for _, y, _ in batches])
    weights = np.concatenate([np.asarray(w) for _, _, w in batches])
    assert sorted(labels[weights == 1]) == list(range(1, 51)) and set(labels[weights == 0]) <= {0}
    for inputs, _, w in batches:
        assert not np.asarray(inputs["padding_mask"])[np.asarray(w) == 0].any()


def test_model_outputs_equal_the_fixed_length_ones():
    classifier = make_text_classifier()
    preprocessor = classifier.preprocessor
    texts = _texts(12, seed=2)
    expected = {t: np.asarray(classifier.predict([t], verbose=0))[0] for t in texts}
    classifier.preprocessor = None
    for inputs, labels in length_bucketed_dataset(texts, list(range(12)), preprocessor, 4):
        logits = np.asarray(classifier(inputs))
        for row, label in enumerate(np.asarray(labels)):
            np.testing.assert_allclose(logits[row], expected[texts[label]], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"batch_size": 0}, "Received: batch_size=0"), ({"width_multiple": -1}, "width_multiple=-1")],
)
def test_bad_arguments(kwargs, message):
    arguments = dict(batch_size=4, width_multiple=16) | kwargs
    with pytest.raises(ValueError, match=message):
        length_bucketed_dataset(["a"], [0], _preprocessor(), **arguments)
