import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.data import TextClassificationData, TextSplit


def make_data(n_train=10):
    return TextClassificationData(
        train=TextSplit([f"train {i}" for i in range(n_train)], np.arange(n_train) % 2),
        validation=TextSplit(["val a", "val b", "val c"], [0, 1, 1]),
        test=TextSplit(["test a"], np.array([1], np.int64)),
        label_names=["neg", "pos"],
        source="unit-test",
        notes=("dropped nothing",),
    )


def collect(dataset):
    texts, labels = [], []
    for batch_texts, batch_labels in dataset:
        texts += [t.decode() for t in batch_texts.numpy()]
        labels += batch_labels.numpy().tolist()
    return texts, labels


def test_text_split_normalises_and_validates():
    split = TextSplit(("a", "b"), [1, 0])
    assert split.texts == ["a", "b"] and len(split) == 2
    assert split.labels.dtype == np.int32
    assert split.label_counts(3) == [1, 1, 0]
    empty = TextSplit([], [])
    assert len(empty) == 0 and empty.labels.dtype == np.int32
    with pytest.raises(ValueError, match="same length"):
        TextSplit(["a"], [0, 1])
    with pytest.raises(ValueError, match="integers"):
        TextSplit(["a"], [0.5])
    with pytest.raises(ValueError, match="non-negative"):
        TextSplit(["a"], [-1])
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        TextSplit(["a", b"b"], [0, 1])
    with pytest.raises(ValueError, match="list of str"):
        TextSplit("ab", [0, 1])


def test_data_validates_label_names_and_splits():
    data = make_data()
    assert data.label_names == ("neg", "pos") and data.num_labels == 2
    with pytest.raises(ValueError, match="label id 1.*label_names"):
        TextClassificationData(data.train, data.validation, data.test, ("only",), "x")
    with pytest.raises(ValueError, match="label_names"):
        TextClassificationData(data.train, data.validation, data.test, "ab", "x")
    with pytest.raises(ValueError, match="`validation` must be"):
        TextClassificationData(data.train, ["x"], data.test, ("a", "b"), "x")


def test_as_dataset_yields_strings_and_int_labels_in_order():
    data = make_data()
    dataset = data.as_dataset("train", batch_size=4)
    text_spec, label_spec = dataset.element_spec
    assert text_spec.dtype == tf.string and label_spec.dtype == tf.int32
    sizes = [int(t.shape[0]) for t, _ in dataset]
    assert sizes == [4, 4, 2]
    texts, labels = collect(dataset)
    assert texts == data.train.texts
    assert labels == data.train.labels.tolist()


def test_shuffle_is_seeded_and_keeps_pairs():
    data = make_data(n_train=50)
    first = collect(data.as_dataset("train", 8, shuffle=True, seed=3))
    second = collect(data.as_dataset("train", 8, shuffle=True, seed=3))
    other = collect(data.as_dataset("train", 8, shuffle=True, seed=4))
    assert first == second
    assert first[0] != other[0]
    assert first[0] != data.train.texts
    assert sorted(first[0]) == sorted(data.train.texts)
    pairs = dict(zip(data.train.texts, data.train.labels.tolist()))
    assert all(pairs[t] == y for t, y in zip(*first))


def test_limit_takes_a_fixed_prefix():
    data = make_data(n_train=20)
    texts, _ = collect(data.as_dataset("train", 4, limit=6))
    assert texts == data.train.texts[:6]
    shuffled, _ = collect(data.as_dataset("train", 4, shuffle=True, limit=6))
    assert sorted(shuffled) == sorted(data.train.texts[:6])
    texts, _ = collect(data.as_dataset("test", 4, limit=100))
    assert texts == ["test a"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(split="dev", batch_size=2), "Received: split='dev'"),
        (dict(split="train", batch_size=0), "Received: batch_size=0"),
        (dict(split="train", batch_size=2.0), "Received: batch_size=2.0"),
        (dict(split="train", batch_size=2, limit=0), "Received: limit=0"),
        (dict(split="train", batch_size=2, seed="a"), "Received: seed='a'"),
    ],
)
def test_as_dataset_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_data().as_dataset(**kwargs)


def test_summary_shows_sizes_label_counts_and_notes():
    summary = make_data().summary()
    lines = summary.splitlines()
    assert lines[0] == "source: unit-test"
    assert lines[1] == "labels: neg, pos"
    assert lines[2].split() == ["train", "10", "neg", "5", "pos", "5"]
    assert lines[3].split() == ["validation", "3", "neg", "1", "pos", "2"]
    assert lines[4].split() == ["test", "1", "neg", "0", "pos", "1"]
    assert lines[5] == "note: dropped nothing"


def test_summary_with_many_labels_stays_short():
    names = tuple(f"topic_{i}" for i in range(20))
    split = TextSplit([f"t{i}" for i in range(40)], np.arange(40) % 20)
    data = TextClassificationData(split, split, split, names, "many")
    assert "per label 2..2" in data.summary()
    assert len(data.summary().splitlines()) == 5
