"""`TokenClassifier`: first-piece labels in the loss, adapters unchanged on it, words to entities."""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.models import TokenClassifier, bio_entities
from tests.support.tiny_models import weights_by_path
from tests.support.tiny_taggers import SENTENCES, TAG_NAMES, make_tagger

CONFIGS = {
    "lora": keras_adapters.LoraConfig(rank=2, modules_to_save=["logits"]),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2, modules_to_save=["logits"]),
}
WORDS = [words for words, _ in SENTENCES]
TAG_IDS = [[TAG_NAMES.index(tag) for tag in tags] for _, tags in SENTENCES]


def _batch(tagger):
    x, labels, weights = tagger.preprocessor(WORDS, TAG_IDS)
    x = {name: keras.ops.convert_to_numpy(x[name]) for name in tagger.input}
    return x, keras.ops.convert_to_numpy(labels), keras.ops.convert_to_numpy(weights)


def test_loss_is_cross_entropy_over_first_pieces_only():
    tagger = make_tagger()
    tagger.compile()
    x, labels, weights = _batch(tagger)
    # One weight per word; later pieces ("Black" "##burn", "1996" "-" ...) get none.
    assert weights.sum() == sum(len(w) for w in WORDS)
    assert x["padding_mask"].sum() - 2 * len(WORDS) > weights.sum()
    logits = keras.ops.convert_to_numpy(tagger(x, training=False)).astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    expected = -(picked * weights).sum() / weights.sum()
    accuracy = ((logits.argmax(-1) == labels) * weights).sum() / weights.sum()
    results = tagger.evaluate(x, labels, sample_weight=weights, return_dict=True, verbose=0)
    np.testing.assert_allclose(results["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(results["accuracy"], accuracy, rtol=1e-6)


@pytest.mark.slow  # two fits, about 5 s each: keeps the fast suite within budget
@pytest.mark.parametrize("method", list(CONFIGS))
def test_adapter_fit_moves_only_adapter_and_head(method):
    tagger = make_tagger()
    keras_adapters.add_adapter(tagger, CONFIGS[method], "ner", verbose=False)
    tagger.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, labels, weights = _batch(tagger)
    before = weights_by_path(tagger)
    tagger.fit(x, labels, sample_weight=weights, batch_size=5, epochs=2, verbose=0)
    trainable = {v.path for v in tagger.trainable_weights}
    head = {"logits/kernel", "logits/bias"}
    assert head <= trainable
    kind = "lora" if method == "lora" else "houlsby"
    assert trainable - head and all(f"/{kind}/" in path for path in trainable - head)
    moved = {p for p, w in weights_by_path(tagger).items() if not np.array_equal(w, before[p])}
    assert head <= moved and moved - head and moved <= trainable


def test_predict_tags_and_entities_follow_the_logits():
    tagger = make_tagger()
    text = "Peter Blackburn lives in Paris, said Reuters."
    words = ["Peter", "Blackburn", "lives", "in", "Paris", ",", "said", "Reuters", "."]
    x, first_piece = tagger.preprocessor.tokenize_words([words])
    logits = keras.ops.convert_to_numpy(
        tagger({name: x[name] for name in tagger.input}, training=False)
    )
    expected = [TAG_NAMES[i] for i in logits[0, first_piece[0].numpy()].argmax(-1)]
    assert tagger.predict_tags([words]) == [expected]
    (entities,) = tagger.predict_entities([text])
    spans = bio_entities(expected)
    assert spans and len(entities) == len(spans)  # the random head does tag entities
    for entity, (kind, first, last) in zip(entities, spans):
        assert entity["type"] == kind
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["text"].startswith(words[first]) and entity["text"].endswith(words[last - 1])


def test_config_round_trip_gives_the_same_logits():
    tagger = make_tagger(with_preprocessor=False)
    restored = TokenClassifier.from_config(tagger.get_config())
    restored.set_weights(tagger.get_weights())
    assert restored.tag_names == TAG_NAMES
    x, _, _ = _batch(make_tagger())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(tagger(x)), atol=1e-6
    )


def test_bad_tag_names_are_refused():
    with pytest.raises(ValueError, match="must include 'O'"):
        make_tagger_with(["B-PER", "I-PER"])
    with pytest.raises(ValueError, match="Received: tag_names='O'"):
        make_tagger_with("O")


def make_tagger_with(tag_names):
    backbone = make_tagger(with_preprocessor=False).backbone
    return TokenClassifier(backbone, tag_names=tag_names)
