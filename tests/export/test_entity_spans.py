"""`entity_spans` (in the serving graph) reads BIO tags exactly as `bio_entities` does."""

import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.export.entity_spans import entity_spans, tag_table
from keras_adapters.export.export_token_classifier import export_token_classifier
from keras_adapters.models import bio_entities
from tests.support.tiny_taggers import TAG_NAMES, make_tagger

ROWS = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["I-ORG", "I-ORG", "B-ORG", "I-LOC"],  # IOB1 start, B-B split, type change
    [],
    ["O", "O"],
    ["I-PER"],  # the row before ends inside MISC/LOC: entities never cross rows
    ["I-MISC", "O", "I-MISC", "B-MISC", "I-MISC", "I-PER", "I-PER"],
]


def test_graph_spans_equal_bio_entities_on_tricky_rows():
    rng = np.random.default_rng(0)
    rows = ROWS + [list(rng.choice(TAG_NAMES, size=rng.integers(0, 12))) for _ in range(40)]
    kinds, types, type_names = tag_table(TAG_NAMES)
    ids = tf.ragged.constant([[TAG_NAMES.index(t) for t in row] for row in rows], dtype=tf.int32)
    type_ids, first, last = entity_spans(ids, kinds, types)
    for row, t, f, la in zip(rows, type_ids.to_list(), first.to_list(), last.to_list()):
        served = [(type_names[k], a, b + 1) for k, a, b in zip(t, f, la)]
        assert served == bio_entities(row), row


def test_bad_tags_and_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Received: tag='B_PER'"):
        tag_table(["O", "B_PER"])
    tagger = make_tagger(with_preprocessor=False)
    with pytest.raises(ValueError, match="has no preprocessor"):
        export_token_classifier(tagger, tmp_path / "ner")
    tagger = make_tagger()
    with pytest.raises(ValueError, match="Received: adapters='switchable'"):
        export_token_classifier(tagger, tmp_path / "ner", adapters="switchable")
    assert not (tmp_path / "ner").exists()
