"""`load_token_classification`, `TokenClassificationData` and `tag_vocabulary`."""

import collections

import numpy as np
import pytest

from keras_adapters.data import (
    TaggedSplit,
    TokenClassificationData,
    load_token_classification,
    tag_vocabulary,
)
from keras_adapters.models import bio_entities
from tests.support.tiny_taggers import SENTENCES, TAG_NAMES, write_conll, write_conll_folder


def test_tag_vocabulary_is_o_then_b_and_i_per_sorted_type():
    assert tag_vocabulary([["I-PER", "O"], ["B-LOC"]]) == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    assert tag_vocabulary([["O"]]) == ("O",)
    with pytest.raises(ValueError, match="Received: tag='PER'"):
        tag_vocabulary([["PER"]])


def test_a_folder_loads_with_tags_from_train(tmp_path):
    folder = write_conll_folder(tmp_path / "conll")
    data = load_token_classification(folder)
    assert len(data.train) == 4 * len(SENTENCES) and len(data.validation) == 3
    assert data.test.sentences[0] == ("BRUSSELS", "1996-08-22")
    assert data.tag_names == TAG_NAMES
    assert data.entity_types == ("LOC", "MISC", "ORG", "PER")
    ids = data.tag_ids("test")
    assert [list(row) for row in ids[:1]] == [[TAG_NAMES.index("B-LOC"), 0]]
    assert all(row.dtype == np.int32 for row in ids)
    summary = data.summary()
    assert "train" in summary and "sentences" in summary and "LOC" in summary


def test_a_type_missing_from_train_is_an_error(tmp_path):
    folder = write_conll_folder(
        tmp_path / "conll",
        train=[(["Paris"], ["B-LOC"])],
        valid=[(["Rome"], ["B-LOC"])],
        test=[(["Peter", "Paris"], ["B-PER", "B-LOC"])],
    )
    with pytest.raises(ValueError, match=r"test split .* \{'B-PER': 1\}"):
        load_token_classification(folder)


def test_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="Received: source='nope'"):
        load_token_classification("nope")
    folder = tmp_path / "partial"
    folder.mkdir()
    write_conll(folder / "train.txt", SENTENCES)
    with pytest.raises(FileNotFoundError, match=r"\['valid.txt', 'test.txt'\]"):
        load_token_classification(folder)


def test_data_checks_its_parts():
    split = TaggedSplit([["Paris"]], [["B-LOC"]])
    with pytest.raises(ValueError, match="include|'O'"):
        TokenClassificationData(split, split, split, tag_names=("B-LOC", "I-LOC"), source="x")
    with pytest.raises(ValueError, match="Received: tag='LOC'"):
        TokenClassificationData(split, split, split, tag_names=("O", "LOC"), source="x")
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        TaggedSplit([["Paris", "."]], [["B-LOC"]])
    with pytest.raises(ValueError, match="same length"):
        TaggedSplit([["Paris"]], [])
    assert TaggedSplit([["a"], ["b"], ["c"]], [["O"]] * 3).take(2).sentences == (("a",), ("b",))


@pytest.mark.slow
def test_real_conll2003_has_the_standard_splits_and_entity_counts():
    data = load_token_classification("conll2003")
    assert (len(data.train), len(data.validation), len(data.test)) == (14041, 3250, 3453)
    assert (data.train.num_words, data.validation.num_words, data.test.num_words) == (
        203621,
        51362,
        46435,
    )
    assert data.tag_names == TAG_NAMES
    counts = collections.Counter(
        kind for tags in data.test.tags for kind, _, _ in bio_entities(tags)
    )
    # The CoNLL-2003 paper's test counts (Tjong Kim Sang and De Meulder, 2003, table 2).
    assert counts == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert data.train.sentences[0] == (
        "EU",
        "rejects",
        "German",
        "call",
        "to",
        "boycott",
        "British",
        "lamb",
        ".",
    )
