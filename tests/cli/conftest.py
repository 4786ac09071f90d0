"""A tiny stand-in for the MiniLM preset so CLI tests run in seconds."""

import pytest

from tests.support.tiny_cli import use_tiny_preset, write_sentiment_csv


@pytest.fixture
def tiny_preset(monkeypatch):
    use_tiny_preset(monkeypatch.setattr)


@pytest.fixture
def sentiment_csv(tmp_path):
    return write_sentiment_csv(tmp_path / "reviews.csv")
