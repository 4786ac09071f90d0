import numpy as np
import pytest

from keras_adapters.data.encode_labels import encode_labels


def test_string_labels_default_to_sorted_names():
    ids, names = encode_labels(["pos", "neg", "pos", "neutral"])
    assert names == ("neg", "neutral", "pos")
    assert ids.tolist() == [2, 0, 2, 1] and ids.dtype == np.int32


def test_string_labels_follow_given_names():
    ids, names = encode_labels(["pos", "neg"], ["pos", "neg", "unused"])
    assert names == ("pos", "neg", "unused") and ids.tolist() == [0, 1]


def test_integer_labels():
    ids, names = encode_labels([0, 2, 2])
    assert names == ("0", "1", "2") and ids.tolist() == [0, 2, 2]
    ids, names = encode_labels([1, 0], ("negative", "positive"))
    assert names == ("negative", "positive") and ids.tolist() == [1, 0]


@pytest.mark.parametrize(
    "labels, label_names, match",
    [
        (["pos", "meh"], ["pos", "neg"], r"\['meh'\].*Received: label_names="),
        ([0, 3], ["a", "b"], "at least 4 names"),
        ([0, -1], None, "non-negative"),
        ([0], "ab", "label_names"),
        ([0], ["a", "a"], "distinct"),
        ([0], ["a", ""], "non-empty"),
        ([0], [], "label_names"),
    ],
)
def test_bad_labels_or_names(labels, label_names, match):
    with pytest.raises(ValueError, match=match):
        encode_labels(labels, label_names)
