"""TFDS reading, only ever against `tfds.testing.mock_data` (no downloads)."""

import socket

import pytest
import tensorflow_datasets as tfds

from keras_adapters.data.read_tfds import read_tfds


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a TFDS test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_mocked_imdb_reviews_random_data():
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        train, test, names = read_tfds("imdb_reviews")
    assert names == ("neg", "pos")
    assert len(train[0]) == 6 and len(test[0]) == 6
    assert all(isinstance(t, str) for t in train[0])
    assert set(train[1]) <= {0, 1}


def test_glue_sst2_maps_sentence_feature():
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        train, test, names = read_tfds("glue/sst2")
    assert names == ("negative", "positive")
    assert len(train[0]) == 5 and all(isinstance(t, str) for t in train[0])


def test_unlabelled_test_split_falls_back_to_validation(mock_tfds_splits):
    splits = {
        "train": [{"sentence": f"train {i}", "label": i % 2, "idx": i} for i in range(6)],
        "validation": [{"sentence": "dev a", "label": 1, "idx": 0}],
        "test": [{"sentence": "hidden", "label": -1, "idx": 0}],
    }
    with mock_tfds_splits(splits):
        train, test, _ = read_tfds("glue/sst2")
    assert train == ([f"train {i}" for i in range(6)], [0, 1, 0, 1, 0, 1])
    assert test == (["dev a"], [1])


def test_no_labelled_test_or_validation_gives_none(mock_tfds_splits):
    splits = {
        "train": [{"sentence": "a", "label": 0, "idx": 0}],
        "test": [{"sentence": "hidden", "label": -1, "idx": 0}],
    }
    with mock_tfds_splits(splits):
        train, test, _ = read_tfds("glue/sst2")
    assert train == (["a"], [0]) and test is None


def test_explicit_columns_and_bad_column():
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        train, _, _ = read_tfds("glue/sst2", text_column="sentence")
        assert len(train[0]) == 3
        with pytest.raises(ValueError) as info:
            read_tfds("imdb_reviews", text_column="review")
    message = str(info.value)
    assert "Features found: ['label', 'text']" in message
    assert "Received: text_column='review'" in message


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Received: source='tfds:no_such_"):
        read_tfds("no_such_dataset_xyz")


def test_unprepared_dataset_fails_fast_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        read_tfds("imdb_reviews", data_dir=str(tmp_path))
    message = str(info.value)
    assert "not prepared" in message and "tfds build imdb_reviews" in message
