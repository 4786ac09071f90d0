"""`export_causal_lm`: a SavedModel that answers raw prompts exactly like `generate()`."""

import keras
import keras_hub
import numpy as np
import pytest

import keras_adapters
from keras_adapters.export import call_saved_model, export_causal_lm
from tests.support.tiny_models import weights_by_path

CHARACTERS = list("abcdefghijklmnopqrstuvwxyz") + ["Ġ", "zz"]
VOCABULARY = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(CHARACTERS)}}
PROMPTS = ["abc", "de fg", "h"]
MAX_LENGTH = 16


def _causal_lm():
    keras.utils.set_random_seed(0)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=VOCABULARY, merges=["z z"])
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=32,
    )
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer, sequence_length=MAX_LENGTH)
    causal_lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=preprocessor)
    rng = np.random.default_rng(1)
    for variable in causal_lm.weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    keras_adapters.add_adapter(
        causal_lm, keras_adapters.LoraConfig(rank=2, targets="all-linear"), "lora", verbose=False
    )
    keras_adapters.add_adapter(
        causal_lm, keras_adapters.PrefixConfig(num_prefix_tokens=2), "prefix", verbose=False
    )
    keras_adapters.set_active_adapters(causal_lm, ["lora", "prefix"])
    for variable in causal_lm.trainable_weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    causal_lm.compile(sampler="greedy")
    return causal_lm


def _expected(causal_lm, new_tokens, stop_token_ids=None):
    """One `generate()` call per prompt, cut to `new_tokens` new tokens."""
    texts = []
    for prompt in PROMPTS:
        length = len(causal_lm.preprocessor.tokenizer(prompt)) + 1  # + start token
        texts.append(
            causal_lm.generate(
                prompt,
                max_length=length + new_tokens,
                strip_prompt=True,
                stop_token_ids=stop_token_ids,
            )
        )
    return texts


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    causal_lm = _causal_lm()
    before = weights_by_path(causal_lm)
    path = tmp_path_factory.mktemp("causal_lm") / "1"
    export_causal_lm(causal_lm, path, max_length=MAX_LENGTH, max_new_tokens=5, stop_token_ids=None)
    return causal_lm, before, path


def test_fresh_process_text_equals_generate(exported):
    causal_lm, _, path = exported
    outputs = call_saved_model(path, {"prompts": PROMPTS})
    assert outputs.fresh_process
    assert outputs["text"] == _expected(causal_lm, 5)
    limited = call_saved_model(
        path, {"prompts": PROMPTS, "max_new_tokens": 2}, signature_name="generate"
    )
    assert limited["text"] == _expected(causal_lm, 2)
    assert all(len(text.replace(" ", "")) <= 2 for text in limited["text"])


def test_export_leaves_the_model_as_it_was_and_records_what_it_did(exported):
    causal_lm, before, path = exported
    for name, value in weights_by_path(causal_lm).items():
        np.testing.assert_array_equal(value, before[name])
    metadata = (path / "assets.extra" / "keras_adapters_export.json").read_text()
    assert (
        '"merged": [\n    "lora"\n  ]' in metadata
        and '"active": [\n    "lora",\n    "prefix"' in metadata
    )


def test_adapters_matter_and_unmerged_export_agrees(exported, tmp_path):
    causal_lm, _, path = exported
    merged_text = call_saved_model(path, {"prompts": PROMPTS})["text"]
    export_causal_lm(
        causal_lm,
        tmp_path / "unmerged",
        max_length=MAX_LENGTH,
        max_new_tokens=5,
        stop_token_ids=None,
        adapters="unmerged",
    )
    assert call_saved_model(tmp_path / "unmerged", {"prompts": PROMPTS})["text"] == merged_text
    keras_adapters.disable_adapters(causal_lm)
    try:
        assert _expected(causal_lm, 5) != merged_text
    finally:
        keras_adapters.enable_adapters(causal_lm)


def test_too_long_prompts_are_refused_by_the_server(exported):
    _, _, path = exported
    with pytest.raises(RuntimeError, match="too many tokens"):
        call_saved_model(path, {"prompts": ["a" * MAX_LENGTH]})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_length": 0}, "Received: max_length=0"),
        ({"max_length": 8, "max_new_tokens": 8}, "must leave room for a prompt"),
        ({"max_length": 64, "adapters": "switchable"}, r"Received: adapters='switchable'"),
        ({"max_length": 64, "stop_token_ids": "eos"}, "Received: stop_token_ids='eos'"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    causal_lm = _causal_lm()
    with pytest.raises(ValueError, match=message):
        export_causal_lm(causal_lm, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
