"""Prompt tuning on every supported backbone: the exact math, training, files, switching, errors.

Reference for the exact math: the base backbone rebuilt with `P` more
vocabulary rows that hold the prompt vectors (a NumPy concatenation of the
embedding table and the prompt), run on the same virtual token ids. That is
the base model on an input whose embeddings at the reserved positions are the
prompt vectors, through each family's own embedding stage (position and
segment embeddings, embedding projections, Gemma's scaling).
"""

import keras
import numpy as np
import pytest

import keras_adapters
from tests.export.text_classifiers import VOCABULARY, make_text_classifier, predict_logits
from tests.support import tiny_decoders
from tests.support.tiny_models import (
    BACKBONES,
    make_backbone,
    make_classifier,
    make_inputs,
    weights_by_path,
)

ENCODERS = list(BACKBONES)
DECODERS = list(tiny_decoders.FAMILIES)
FAST = ("bert", "roberta", "gpt2", "llama3")  # the rest of the grid runs with --slow
P = 3


def _grid(kinds):
    return [k if k in FAST else pytest.param(k, marks=pytest.mark.slow) for k in kinds]


def _output(model, x):
    out = model(x)
    return np.asarray(out["sequence_output"] if isinstance(out, dict) else out)


def _make(kind):
    if kind in DECODERS:
        return tiny_decoders.make_backbone(kind), tiny_decoders.make_inputs()
    return make_backbone(kind), make_inputs(kind)


def _extended_vocabulary_reference(backbone, prompts):
    """The base backbone with the prompt vectors as vocabulary rows `V ... V + P - 1`."""
    config = backbone.get_config()
    config.pop("keras_adapters")  # the plain backbone class, without adapters
    key = "vocab_size" if "vocab_size" in config else "vocabulary_size"
    config[key] += len(prompts)
    base_class = next(c for c in type(backbone).__mro__[1:] if c is not keras_adapters.AdaptedModel)
    reference = base_class.from_config(config)
    weights = {v.path: v.numpy() for v in backbone.weights if "/prompt/" not in v.path}
    for variable in reference.weights:
        value = weights[variable.path]
        if variable.path.endswith("token_embedding/embeddings"):
            value = np.concatenate([value, prompts])  # the NumPy part: rows V.. are the prompt
        elif variable.path.endswith("token_embedding/reverse_embeddings"):
            value = np.pad(value, [(0, 0), (0, len(prompts))])
        variable.assign(value)
    return reference


def _prompt_values(model, name="p"):
    (variable,) = [v for v in model.weights if f"/prompt/{name}/" in v.path]
    return variable


@pytest.mark.parametrize("kind", _grid(ENCODERS + DECODERS))
def test_outputs_equal_the_base_model_with_the_prompt_as_input_embeddings(kind):
    backbone, x = _make(kind)
    keras_adapters.add_adapter(
        backbone, keras_adapters.PromptConfig(num_virtual_tokens=P), "p", verbose=False
    )
    prompt = _prompt_values(backbone)
    prompt.assign(np.random.default_rng(5).normal(size=prompt.shape))  # not token embeddings
    reserved = keras_adapters.reserve_prompt_positions(backbone, x)
    config = backbone.get_config()
    vocabulary = config.get("vocabulary_size", config.get("vocab_size"))
    ids = np.asarray(reserved["token_ids"])
    assert ids.shape[1] == x["token_ids"].shape[1] + P
    np.testing.assert_array_equal(ids[:, 1 : 1 + P], np.tile(vocabulary + np.arange(P), (3, 1)))
    reference = _extended_vocabulary_reference(backbone, prompt.numpy())
    expected = _output(reference, reserved)
    np.testing.assert_allclose(_output(backbone, reserved), expected, atol=1e-5)
    # The prompt really is attended to: other prompt vectors change the real tokens' outputs.
    prompt.assign(np.random.default_rng(6).normal(size=prompt.shape))
    changed = _output(backbone, reserved)
    mask = np.asarray(reserved["padding_mask"]).astype(bool)
    mask[:, 1 : 1 + P] = False
    assert np.abs(changed - expected)[mask].max() > 1e-3


@pytest.mark.parametrize(
    "kind", ["bert"] + [pytest.param(k, marks=pytest.mark.slow) for k in ("roberta", "llama3")]
)
def test_disabled_switched_and_deleted_prompts_give_the_base_model_on_the_original_input(kind):
    backbone, x = _make(kind)
    before = _output(backbone, x)
    config = keras_adapters.PromptConfig(num_virtual_tokens=P)
    keras_adapters.add_adapter(backbone, config, "p", verbose=False)
    keras_adapters.add_adapter(backbone, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    keras_adapters.set_active_adapters(backbone, "p")
    reserved = keras_adapters.reserve_prompt_positions(backbone, x)
    with_prompt = _output(backbone, reserved)
    keras_adapters.disable_adapters(backbone)
    np.testing.assert_array_equal(_output(backbone, x), before)
    keras_adapters.enable_adapters(backbone)
    keras_adapters.set_active_adapters(backbone, "lora")  # B = 0: the base model
    np.testing.assert_allclose(_output(backbone, x), before, atol=1e-6)
    with pytest.raises(ValueError, match="no active prompt-tuning adapter"):
        keras_adapters.reserve_prompt_positions(backbone, x)
    keras_adapters.set_active_adapters(backbone, "p")
    np.testing.assert_array_equal(_output(backbone, reserved), with_prompt)
    keras_adapters.delete_adapter(backbone, "p")
    keras_adapters.delete_adapter(backbone, "lora")
    assert type(backbone.token_embedding).__name__ == "ReversibleEmbedding"
    np.testing.assert_array_equal(_output(backbone, x), before)


def test_two_active_prompts_are_one_longer_prompt_in_activation_order():
    backbone, x = _make("bert")
    for name, count in (("a", 2), ("b", 3)):
        config = keras_adapters.PromptConfig(num_virtual_tokens=count)
        keras_adapters.add_adapter(backbone, config, name, verbose=False)
    keras_adapters.set_active_adapters(backbone, ["b", "a"])
    reserved = keras_adapters.reserve_prompt_positions(backbone, x)
    assert np.asarray(reserved["token_ids"]).shape[1] == x["token_ids"].shape[1] + 5
    prompts = np.concatenate([_prompt_values(backbone, "b").numpy(), _prompt_values(backbone, "a")])
    reference = _extended_vocabulary_reference(backbone, prompts)
    np.testing.assert_allclose(_output(backbone, reserved), _output(reference, reserved), atol=1e-5)


def test_initialisation_copies_token_embeddings():
    backbone, _ = _make("bert")
    table = backbone.token_embedding.embeddings.numpy()
    config = keras_adapters.PromptConfig(num_virtual_tokens=5, init_token_ids=[7, 8])
    keras_adapters.add_adapter(backbone, config, "ids", verbose=False)
    np.testing.assert_array_equal(_prompt_values(backbone, "ids").numpy(), table[[7, 8, 7, 8, 7]])
    keras.utils.set_random_seed(3)
    keras_adapters.add_adapter(backbone, keras_adapters.PromptConfig(num_virtual_tokens=6), "rnd")
    values = _prompt_values(backbone, "rnd").numpy()
    rows = [np.flatnonzero((table == row).all(axis=1)) for row in values]
    assert all(len(r) == 1 for r in rows)  # every vector is one vocabulary row
    assert len({int(r[0]) for r in rows}) > 1


def test_only_the_prompt_and_the_head_train():
    classifier = make_classifier("bert")
    config = keras_adapters.PromptConfig(num_virtual_tokens=P, modules_to_save=["logits"])
    report = keras_adapters.add_adapter(classifier, config, "p", verbose=False)
    assert report.adapters["p"][1] == P * 8  # P vectors of the embedding width
    assert sorted(v.path for v in classifier.trainable_weights) == [
        "logits/bias",
        "logits/kernel",
        "token_embedding/prompt/p/embeddings",
    ]
    x = keras_adapters.reserve_prompt_positions(classifier, make_inputs("bert", batch=4))
    before = weights_by_path(classifier)
    classifier.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    classifier.fit(x, np.array([0, 1, 1, 0]), epochs=1, batch_size=4, verbose=0)
    after = weights_by_path(classifier)
    moved = sorted(p for p, w in before.items() if not np.array_equal(w, after[p]))
    assert moved == sorted(v.path for v in classifier.trainable_weights)


def test_adapter_file_and_keras_round_trips(tmp_path):
    classifier = make_classifier("distil_bert")
    config = keras_adapters.PromptConfig(num_virtual_tokens=P, modules_to_save=["logits"])
    keras_adapters.add_adapter(classifier, config, "p", verbose=False)
    prompt = _prompt_values(classifier)
    prompt.assign(np.random.default_rng(4).normal(size=prompt.shape))
    x = keras_adapters.reserve_prompt_positions(classifier, make_inputs("distil_bert"))
    expected = np.asarray(classifier(x))
    keras_adapters.save_adapter(classifier, tmp_path / "adapter")
    fresh = make_classifier("distil_bert")
    keras_adapters.load_adapter(fresh, tmp_path / "adapter")
    np.testing.assert_allclose(fresh(x), expected, atol=1e-6)
    classifier.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(restored(x), expected, atol=1e-6)
    assert sorted(v.path for v in restored.trainable_weights) == sorted(
        v.path for v in classifier.trainable_weights
    )


def test_bad_adapters_are_refused_before_the_model_changes():
    backbone, _ = _make("bert")
    config = keras_adapters.PromptConfig(num_virtual_tokens=2, init_text="a film")
    with pytest.raises(ValueError, match="has none.*Received: init_text='a film'"):
        keras_adapters.add_adapter(backbone, config, "p", verbose=False)
    config = keras_adapters.PromptConfig(num_virtual_tokens=2, init_token_ids=[60])
    with pytest.raises(ValueError, match="below the vocabulary size 60"):
        keras_adapters.add_adapter(backbone, config, "p", verbose=False)
    assert type(backbone.token_embedding).__name__ == "ReversibleEmbedding"
    assert not any("/prompt/" in v.path for v in backbone.weights)
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.list_adapters(backbone)
    with pytest.raises(ValueError, match="no active prompt-tuning adapter"):
        keras_adapters.reserve_prompt_positions(backbone, make_inputs("bert"))


def test_init_text_is_tokenised_by_the_task_and_checked_against_its_lengths():
    classifier = make_text_classifier()  # sequences of 16 tokens: every position is used
    table = classifier.backbone.token_embedding.embeddings.numpy()
    with pytest.raises(ValueError, match="grow to 18, beyond the 16 positions"):
        keras_adapters.add_adapter(classifier, keras_adapters.PromptConfig(num_virtual_tokens=2))
    classifier.preprocessor.sequence_length = 12
    config = keras_adapters.PromptConfig(num_virtual_tokens=2, init_text="a gripping film")
    with pytest.raises(ValueError, match="is 3 tokens long, more than num_virtual_tokens=2"):
        keras_adapters.add_adapter(classifier, config)
    assert type(classifier.preprocessor).__name__ == "BertTextClassifierPreprocessor"
    config = keras_adapters.PromptConfig(num_virtual_tokens=4, init_text="a gripping film")
    keras_adapters.add_adapter(classifier, config, "p", verbose=False)
    ids = [VOCABULARY.index(word) for word in ("a", "gripping", "film", "a")]  # repeated to P
    np.testing.assert_array_equal(_prompt_values(classifier).numpy(), table[ids])
    packed = classifier.preprocessor(["a film"])
    assert classifier.preprocessor.sequence_length == 16
    np.testing.assert_array_equal(
        packed["token_ids"][0, :8], [2, *(len(VOCABULARY) + np.arange(4)), 5, 7, 3]
    )


@pytest.mark.slow
def test_a_task_with_a_preprocessor_round_trips_and_predicts_raw_text(tmp_path):
    classifier = make_text_classifier(seed=1)
    classifier.preprocessor.sequence_length = 12
    config = keras_adapters.PromptConfig(
        num_virtual_tokens=P, init_text="a film", modules_to_save=["logits"]
    )
    keras_adapters.add_adapter(classifier, config, "p", verbose=False)
    prompt = _prompt_values(classifier)
    prompt.assign(np.random.default_rng(0).normal(size=prompt.shape))
    expected = predict_logits(classifier)
    classifier.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert type(restored.preprocessor).__name__ == "PromptPreprocessor"
    np.testing.assert_allclose(predict_logits(restored), expected, atol=1e-6)
    keras_adapters.save_adapter(classifier, tmp_path / "adapter")
    fresh = make_text_classifier(seed=1)
    fresh.preprocessor.sequence_length = 12
    keras_adapters.load_adapter(fresh, tmp_path / "adapter")
    np.testing.assert_allclose(predict_logits(fresh), expected, atol=1e-6)
    keras_adapters.delete_adapter(fresh, "p")  # the task's own preprocessor is back
    assert type(fresh.preprocessor).__name__ == "BertTextClassifierPreprocessor"
    assert fresh.preprocessor.sequence_length == 12
