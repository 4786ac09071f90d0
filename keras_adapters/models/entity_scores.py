"""`entity_scores`: entity-level precision, recall and F1, as the CoNLL shared tasks score them."""

import dataclasses

from keras_adapters.models.bio_entities import bio_entities


@dataclasses.dataclass(frozen=True)
class EntityScores:
    """What `keras_adapters.models.entity_scores` returns.

    Precision, recall and F1 are fractions in [0, 1] (conlleval prints them
    as percentages); each is 0 where its denominator is 0.

    Args:
        precision: float. Correct entities / predicted entities.
        recall: float. Correct entities / true entities.
        f1: float. The harmonic mean of precision and recall.
        accuracy: float. The share of words whose tag is right (`O`
            included).
        true_entities: int. Entities in the true tags.
        predicted_entities: int. Entities in the predicted tags.
        correct_entities: int. Predicted entities with exactly the span and
            type of a true one.
        per_type: dict. For each entity type (sorted), a dict with the keys
            `precision`, `recall`, `f1`, `true`, `predicted`, `correct`.
    """

    precision: float
    recall: float
    f1: float
    accuracy: float
    true_entities: int
    predicted_entities: int
    correct_entities: int
    per_type: dict

    def as_dict(self):
        """The scores as a plain dict (for JSON)."""
        return dataclasses.asdict(self)

    def report(self):
        """A short text table in the spirit of conlleval's output.

        Example:
        ```python
        print(keras_adapters.models.entity_scores([["B-PER", "O"]], [["B-PER", "O"]]).report())
        ```
        """
        lines = [
            f"entities: {self.true_entities} true, {self.predicted_entities} predicted, "
            f"{self.correct_entities} correct; word accuracy {self.accuracy:.4f}",
            f"{'type':<8} {'precision':>9} {'recall':>9} {'F1':>9} {'true':>6} {'predicted':>9}",
            f"{'overall':<8} {self.precision:>9.4f} {self.recall:>9.4f} {self.f1:>9.4f} "
            f"{self.true_entities:>6} {self.predicted_entities:>9}",
        ]
        for kind, row in self.per_type.items():
            lines.append(
                f"{kind:<8} {row['precision']:>9.4f} {row['recall']:>9.4f} {row['f1']:>9.4f} "
                f"{row['true']:>6} {row['predicted']:>9}"
            )
        return "\n".join(lines)


def entity_scores(true_tags, predicted_tags):
    """Scores predicted BIO tags against true ones at the entity level (CoNLL F1).

    An entity counts as correct only if a true entity has exactly its first
    word, last word and type. Entities are read from each sentence by
    `keras_adapters.models.bio_entities`, the way `conlleval` reads them
    (an `I-X` that does not continue an `X` entity starts one), and never
    cross a sentence boundary. Totals are summed over all sentences, so the
    scores are micro-averaged, as conlleval reports them.

    Args:
        true_tags: list of sentences, each a list of BIO tags (str).
        predicted_tags: list of sentences of the same lengths.

    Returns:
        A `keras_adapters.models.EntityScores`.

    Raises:
        ValueError: the two differ in the number of sentences or of words
            in a sentence, or a tag is not BIO.

    Example:
    ```python
    scores = keras_adapters.models.entity_scores(
        [["B-PER", "I-PER", "O", "B-LOC"]],
        [["B-PER", "I-PER", "O", "B-ORG"]],
    )
    scores.precision, scores.recall, scores.f1  # (0.5, 0.5, 0.5)
    ```
    """
    for name, value in (("true_tags", true_tags), ("predicted_tags", predicted_tags)):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(
                f"`{name}` must be a list of sentences, each a list of tags. "
                f"Received: {name}={value!r:.80}"
            )
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            "`true_tags` and `predicted_tags` must hold the same number of sentences. "
            f"Received: {len(true_tags)} and {len(predicted_tags)}"
        )
    counts = {}  # type -> [true, predicted, correct]
    words = right = 0
    for index, (true, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if isinstance(true, str) or isinstance(predicted, str) or len(true) != len(predicted):
            raise ValueError(
                f"Sentence {index} has {_length(true)} true tags and {_length(predicted)} "
                f"predicted tags; each sentence needs one of each per word. Received: "
                f"true_tags[{index}]={true!r:.80}, predicted_tags[{index}]={predicted!r:.80}"
            )
        gold, guessed = set(bio_entities(true)), set(bio_entities(predicted))
        for kind, _, _ in gold:
            counts.setdefault(kind, [0, 0, 0])[0] += 1
        for kind, _, _ in guessed:
            counts.setdefault(kind, [0, 0, 0])[1] += 1
        for kind, _, _ in gold & guessed:
            counts[kind][2] += 1
        words += len(true)
        right += sum(t == p for t, p in zip(true, predicted))
    per_type = {kind: _scores(*counts[kind]) for kind in sorted(counts)}
    totals = [sum(row[i] for row in counts.values()) for i in range(3)]
    overall = _scores(*totals)
    return EntityScores(
        precision=overall["precision"],
        recall=overall["recall"],
        f1=overall["f1"],
        accuracy=right / words if words else 0.0,
        true_entities=totals[0],
        predicted_entities=totals[1],
        correct_entities=totals[2],
        per_type=per_type,
    )


def _scores(true, predicted, correct):
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true": true,
        "predicted": predicted,
        "correct": correct,
    }


def _length(value):
    return len(value) if isinstance(value, (list, tuple)) else repr(value)
