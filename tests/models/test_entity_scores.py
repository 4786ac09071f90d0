"""`bio_entities` and `entity_scores`: conlleval's reading of BIO tags, checked by hand and against conlleval."""

import random
import re
import shutil
import subprocess

import pytest

from keras_adapters.models import bio_entities, entity_scores


@pytest.mark.parametrize(
    "tags, expected",
    [
        ([], []),
        (["O", "O"], []),
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        # An I- tag without a B- before it starts an entity (IOB1, or a model's slip).
        (["I-PER", "I-PER"], [("PER", 0, 2)]),
        (["O", "I-ORG", "O", "I-ORG"], [("ORG", 1, 2), ("ORG", 3, 4)]),
        # A type change starts a new entity, whatever the prefix.
        (["B-PER", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),
        (["B-LOC", "I-LOC", "I-PER", "I-PER"], [("LOC", 0, 2), ("PER", 2, 4)]),
        # B- always starts one, also right after the same type.
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
        (["I-ORG", "B-ORG", "I-ORG"], [("ORG", 0, 1), ("ORG", 1, 3)]),
        (["B-MISC"], [("MISC", 0, 1)]),
    ],
)
def test_bio_entities_read_tags_as_conlleval(tags, expected):
    assert bio_entities(tags) == expected


def test_bio_entities_refuses_other_schemes():
    with pytest.raises(ValueError, match="Received: tag='S-PER'"):
        bio_entities(["S-PER"])
    with pytest.raises(ValueError, match="Received: tag=None"):
        bio_entities([None])


def test_scores_by_hand():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O"]]
    scores = entity_scores(true, predicted)
    # True PER, LOC, ORG; predicted PER, ORG, ORG (I-ORG starts one); PER and 2nd ORG correct.
    assert (scores.true_entities, scores.predicted_entities, scores.correct_entities) == (3, 3, 2)
    assert scores.precision == scores.recall == scores.f1 == pytest.approx(2 / 3)
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.per_type["PER"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "true": 1,
        "predicted": 1,
        "correct": 1,
    }
    assert scores.per_type["LOC"]["f1"] == 0.0 and scores.per_type["LOC"]["predicted"] == 0
    org = scores.per_type["ORG"]
    assert (org["precision"], org["recall"], org["f1"]) == pytest.approx((0.5, 1.0, 2 / 3))
    assert list(scores.per_type) == ["LOC", "ORG", "PER"]
    assert "overall" in scores.report() and scores.as_dict()["f1"] == scores.f1


def test_only_exact_span_and_type_count():
    assert entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]]).correct_entities == 0
    assert entity_scores([["B-PER", "I-PER"]], [["B-LOC", "I-LOC"]]).correct_entities == 0
    # IOB1 and IOB2 spellings of the same entity are the same entity.
    assert entity_scores([["I-PER", "I-PER"]], [["B-PER", "I-PER"]]).f1 == 1.0


def test_entities_do_not_cross_sentences():
    scores = entity_scores([["I-PER"], ["I-PER"]], [["I-PER"], ["I-PER"]])
    assert scores.true_entities == scores.correct_entities == 2


def test_no_entities_scores_zero_not_nan():
    scores = entity_scores([["O"]], [["O"]])
    assert (scores.precision, scores.recall, scores.f1, scores.accuracy) == (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    "true, predicted, message",
    [
        ([["O"]], [["O"], ["O"]], "same number of sentences"),
        ([["O", "O"]], [["O"]], "Sentence 0 has 2 true tags and 1 predicted"),
        ("O", [["O"]], "Received: true_tags='O'"),
        ([["O"]], [["X"]], "Received: tag='X'"),
    ],
)
def test_bad_input(true, predicted, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        entity_scores(true, predicted)


def _random_tags(rng, length):
    choices = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-MISC"]
    return [rng.choice(choices) for _ in range(length)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("perl") is None, reason="conlleval is a Perl script")
def test_counts_equal_the_real_conlleval_script(tmp_path):
    from keras_adapters.assets import fetch_asset

    script = fetch_asset("conll2003") / "conlleval"
    rng = random.Random(0)
    true, predicted = [], []
    for _ in range(300):
        length = rng.randint(1, 12)
        true.append(_random_tags(rng, length))
        predicted.append(_random_tags(rng, length))
    lines = []
    for t_row, p_row in zip(true, predicted):
        lines += [f"w {t} {p}" for t, p in zip(t_row, p_row)] + [""]
    result = subprocess.run(
        ["perl", str(script)], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    phrases, found, correct = map(
        int,
        re.search(r"with (\d+) phrases; found: (\d+) phrases; correct: (\d+)", out).groups(),
    )
    scores = entity_scores(true, predicted)
    assert (scores.true_entities, scores.predicted_entities, scores.correct_entities) == (
        phrases,
        found,
        correct,
    )
    overall = re.search(r"precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; FB1:\s+([\d.]+)", out)
    assert [float(x) for x in overall.groups()] == pytest.approx(
        [100 * scores.precision, 100 * scores.recall, 100 * scores.f1], abs=0.006
    )
    for kind, p, r, f in re.findall(
        r"^\s*(\w+): precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; FB1:\s+([\d.]+)", out, re.M
    ):
        row = scores.per_type[kind]
        assert [float(p), float(r), float(f)] == pytest.approx(
            [100 * row["precision"], 100 * row["recall"], 100 * row["f1"]], abs=0.006
        )
