import hashlib
import random

import numpy as np
import pytest

from keras_adapters.data import DeduplicatedSplit, deduplicated_split, normalize_text


def as_pairs(split):
    return list(zip(split.texts, split.labels.tolist()))


def reference_assignment(text, seed, validation_fraction, test_fraction):
    """The documented rule, written out independently."""
    key = " ".join(text.lower().split())
    digest = hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
    u = int(digest[:16], 16) / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + validation_fraction:
        return "validation"
    return "train"


def synthetic(n=3000):
    texts = [f"Review {i}: {'good' if i % 3 else 'bad'} film" for i in range(n)]
    labels = [int(i % 3 != 0) for i in range(n)]
    return texts, labels


def test_normalize_text():
    assert normalize_text("  Hello\tWORLD \n again ") == "hello world again"
    assert normalize_text(" \n\t") == ""


def test_duplicates_conflicts_and_empties_are_dropped_and_counted():
    texts = [
        "Great film",
        "great   FILM",
        "Great film",  # one text, 3 rows
        "Mixed bag",
        "mixed bag",  # conflicting labels -> dropped
        "  ",  # empty -> dropped
        "Dull",
        "Fine",
    ]
    labels = [1, 1, 1, 0, 1, 0, 0, 1]
    result = deduplicated_split(texts, labels, 0.0, 0.0, seed=0)
    assert isinstance(result, DeduplicatedSplit)
    assert result.num_rows == 8
    assert result.num_empty_rows == 1
    assert result.num_conflicting_rows == 2
    assert result.num_conflicting_texts == 1
    assert result.num_duplicate_rows == 2
    assert result.num_kept == 3
    kept = dict(as_pairs(result.train))
    # The smallest original spelling represents a group.
    assert kept == {"Great film": 1, "Dull": 0, "Fine": 1}
    assert len(result.validation) == 0 and len(result.test) == 0


def test_assignment_follows_the_documented_hash_rule():
    texts, labels = synthetic(500)
    result = deduplicated_split(texts, labels, 0.2, 0.3, seed=42)
    for name in ("train", "validation", "test"):
        for text in getattr(result, name).texts:
            assert reference_assignment(text, 42, 0.2, 0.3) == name


def test_known_assignments_are_pinned():
    # Literal expected output, in stored (hash) order: the split of a data
    # set must never change across releases, Python versions or platforms.
    texts = [f"text number {i}" for i in range(12)]
    result = deduplicated_split(texts, [0] * 12, 0.25, 0.25, seed=1337)
    number = {t: int(t.split()[-1]) for t in texts}
    assert [number[t] for t in result.train.texts] == [1, 2, 8]
    assert [number[t] for t in result.validation.texts] == [0, 7, 4, 6, 10, 9]
    assert [number[t] for t in result.test.texts] == [3, 11, 5]


def test_independent_of_input_order():
    texts, labels = synthetic(800)
    texts = texts + ["REVIEW 5: good   film"]  # duplicate of "Review 5..."
    labels = labels + [1]
    first = deduplicated_split(texts, labels, 0.1, 0.2, seed=7)
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    second = deduplicated_split(
        [texts[i] for i in order], [labels[i] for i in order], 0.1, 0.2, seed=7
    )
    for name in ("train", "validation", "test"):
        assert as_pairs(getattr(first, name)) == as_pairs(getattr(second, name))
    assert first.num_duplicate_rows == second.num_duplicate_rows == 1


def test_splits_are_disjoint_and_cover_all_kept_texts():
    texts, labels = synthetic(3000)
    result = deduplicated_split(texts, labels, 0.1, 0.1, seed=1)
    keys = {
        name: {normalize_text(t) for t in getattr(result, name).texts}
        for name in ("train", "validation", "test")
    }
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]
    assert sum(map(len, keys.values())) == 3000
    # Shares near the fractions (binomial sd ~0.0055 at n=3000).
    assert abs(len(result.test) / 3000 - 0.1) < 0.025
    assert abs(len(result.validation) / 3000 - 0.1) < 0.025
    # Labels travel with their texts.
    label_of = dict(zip(texts, labels))
    for name in ("train", "validation", "test"):
        for text, label in as_pairs(getattr(result, name)):
            assert label_of[text] == label


def test_seed_changes_assignment_and_splits_are_hash_ordered():
    texts, labels = synthetic(400)
    a = deduplicated_split(texts, labels, 0.2, 0.2, seed=0)
    b = deduplicated_split(texts, labels, 0.2, 0.2, seed=1)
    assert set(a.test.texts) != set(b.test.texts)
    order = [hashlib.sha256(f"0:{normalize_text(t)}".encode()).digest() for t in a.train.texts]
    assert order == sorted(order)
    assert a.train.labels.dtype == np.int32


def test_growing_the_data_keeps_existing_assignments():
    texts, labels = synthetic(1000)
    small = deduplicated_split(texts[:500], labels[:500], 0.1, 0.1, seed=3)
    large = deduplicated_split(texts, labels, 0.1, 0.1, seed=3)
    assert set(small.test.texts) <= set(large.test.texts)
    assert set(small.train.texts) <= set(large.train.texts)


@pytest.mark.parametrize(
    "validation_fraction, test_fraction, match",
    [
        (-0.1, 0.1, "validation_fraction"),
        (1.0, 0.0, "validation_fraction"),
        (0.1, 1.5, "test_fraction"),
        (True, 0.1, "validation_fraction"),
        ("0.1", 0.1, "validation_fraction"),
        (0.5, 0.5, "sum|less than 1"),
        (0.6, 0.5, "less than 1"),
    ],
)
def test_bad_fractions(validation_fraction, test_fraction, match):
    with pytest.raises(ValueError, match=match) as info:
        deduplicated_split(["a"], [0], validation_fraction, test_fraction, 0)
    assert "Received:" in str(info.value)


@pytest.mark.parametrize(
    "texts, labels, seed, match",
    [
        (["a", "b"], [0], 0, "same length"),
        ("ab", [0, 1], 0, "texts"),
        (["a", 3], [0, 1], 0, r"texts\[1\]"),
        (["a", "b"], [0, -1], 0, r"labels\[1\]"),
        (["a", "b"], [0, "pos"], 0, r"labels\[1\]"),
        (["a", "b"], [0, 1.0], 0, r"labels\[1\]"),
        (["a", "b"], [0, 1], 0.5, "seed"),
        (["a", "b"], [0, 1], None, "seed"),
    ],
)
def test_bad_inputs(texts, labels, seed, match):
    with pytest.raises(ValueError, match=match):
        deduplicated_split(texts, labels, 0.1, 0.1, seed)


def test_accepts_numpy_labels():
    result = deduplicated_split(["a", "b", "c"], np.array([0, 1, 2], np.int64), 0.0, 0.0, seed=0)
    assert sorted(as_pairs(result.train)) == [("a", 0), ("b", 1), ("c", 2)]
