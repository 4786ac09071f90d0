"""Every PEFT file keras-adapters cannot load exactly is refused, naming why, before the model changes."""

import json

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.injection.adapter_state import get_state
from tests.saving.peft.hf_reference import FAMILIES, random_lora, write_peft_dir
from tests.support import tiny_decoders, tiny_models

Q, V = "attention.self.query", "attention.self.value"
BERT_LORA = "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"


@pytest.fixture(scope="module")
def bert():
    model = FAMILIES["bert"].make_model(0)
    tensors, _, _ = random_lora(model, FAMILIES["bert"], [Q, V])
    return model, tensors


def _weights(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def _refused(model, path, match, error=ValueError, **kwargs):
    before = _weights(model)
    with pytest.raises(error, match=match):
        keras_adapters.load_peft_adapter(model, path, **kwargs)
    assert get_state(model) is None
    after = _weights(model)
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


BASE = {"r": 2, "lora_alpha": 4, "target_modules": ["query", "value"]}

CONFIG_CASES = {  # config change -> what the error says
    "ia3": ({"peft_type": "IA3"}, r"only LoRA.*Received: peft_type='IA3'"),
    "prefix_tuning": ({"peft_type": "PREFIX_TUNING"}, "peft_type='PREFIX_TUNING'"),
    "rank_pattern": ({"rank_pattern": {"query": 4}}, r"`rank_pattern`.*a rank per module"),
    "alpha_pattern": ({"alpha_pattern": {"value": 8}}, r"`alpha_pattern`.*an alpha per module"),
    "lora_bias": ({"lora_bias": True}, "`lora_bias` asks for a bias on lora_B"),
    "layer_replication": ({"layer_replication": [[0, 2]]}, "layer replication"),
    "trainable_tokens": ({"trainable_token_indices": [1, 2]}, "trainable tokens"),
    "bias_all": ({"bias": "all"}, r"`bias` must be 'none'.*Received: bias='all'"),
    "r_zero": ({"r": 0}, r"`r` must be a positive integer. Received: r=0"),
    "alpha_text": ({"lora_alpha": "16"}, r"`lora_alpha` must be a positive number"),
    "dropout_one": ({"lora_dropout": 1.0}, r"`lora_dropout` must be a number in \[0, 1\)"),
    "rslora_text": ({"use_rslora": "yes"}, "`use_rslora` must be true or false"),
    "other_architecture": (
        {"base_model_name_or_path": "meta-llama/Llama-3.2-1B"},
        r"'meta-llama/Llama-3.2-1B', a llama model; this model is a bert \(BertBackbone\)",
    ),
    "roberta_checkpoint": (
        {"base_model_name_or_path": "FacebookAI/roberta-base"},
        "a roberta model; this model is a bert",
    ),
    "unknown_target": (
        {"target_modules": ["query", "fc1"]},
        r"entry 'fc1' names no module of a bert block. Valid names: \['attention.self.query'",
    ),
    "target_outside_blocks": (
        {"target_modules": ["query", "classifier"]},
        "'classifier' is outside the bert blocks; keras-adapters puts LoRA on block projections",
    ),
    "regex_matching_nothing": (
        {"target_modules": r".*\.q_proj"},
        r"`target_modules` selects no module of this bert model",
    ),
    "regex_with_layers": (
        {"target_modules": ".*query", "layers_to_transform": [0]},
        "`layers_to_transform` cannot be used when `target_modules` is a regex",
    ),
    "layers_beyond_depth": (
        {"layers_to_transform": [0, 5]},
        r"names blocks \[5\], but this model has 2 blocks",
    ),
    "unknown_module_to_save": (
        {"modules_to_save": ["pooler_head"]},
        r"`modules_to_save` entry 'pooler_head' is no module keras-adapters can map",
    ),
    "missing_module_to_save": (
        {"modules_to_save": ["classifier"]},
        r"missing in file: base_model.model.classifier.weight \(2, 8\)",
    ),
    # The file holds layer 0 and 1; a config for layer 1 only leaves layer 0's tensors over.
    "extra_tensors": (
        {"layers_to_transform": [1]},
        r"not in model: base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_refusals(case, bert, tmp_path):
    model, tensors = bert
    change, match = CONFIG_CASES[case]
    write_peft_dir(tmp_path / "a", {**BASE, **change}, tensors)
    _refused(model, tmp_path / "a", match)


def _drop(tensors, key):
    return {k: v for k, v in tensors.items() if k != key}


TENSOR_CASES = {  # tensors change -> what the error says
    "missing": (
        lambda t: _drop(t, BERT_LORA.replace("lora_A", "lora_B")),
        r"missing in file: base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.weight \(8, 2\)",
    ),
    "pooler_lora": (
        lambda t: {
            **t,
            "base_model.model.bert.pooler.dense.lora_A.weight": np.zeros((2, 8)),
            "base_model.model.bert.pooler.dense.lora_B.weight": np.zeros((8, 2)),
        },
        r"not in model: base_model.model.bert.pooler.dense.lora_A.weight",
    ),
    "rank_mismatch": (
        lambda t: {**t, BERT_LORA: np.zeros((3, 8))},
        r"shape of .*layer.0.attention.self.query.lora_A.weight: file \(3, 8\), model \(2, 8\)",
    ),
    "hidden_mismatch": (
        lambda t: {**t, BERT_LORA: np.zeros((2, 16))},
        r"file \(2, 16\), model \(2, 8\)",
    ),
    "dora_tensor_without_use_dora": (
        lambda t: {
            **t,
            BERT_LORA.replace("lora_A.weight", "lora_magnitude_vector"): np.ones((8,)),
        },
        "not in model: .*query.lora_magnitude_vector",
    ),
    "llama_names": (
        lambda t: {
            k.replace("bert.encoder.layer", "model.layers").replace(Q, "self_attn.q_proj"): v
            for k, v in t.items()
        },
        r"does not fit a bert model: its LoRA modules \['model.layers.0",
    ),
    "mixed_prefixes": (
        lambda t: {
            **t,
            BERT_LORA.replace("bert.encoder", "encoder").replace("query", "key"): np.zeros((2, 8)),
        },
        "are not all blocks of one bert model",
    ),
    "foreign_key": (lambda t: {**t, "encoder.weight": np.zeros(2)}, "keys must start with"),
    "no_lora": (lambda t: {}, "holds no LoRA tensors"),
}


@pytest.mark.parametrize("case", list(TENSOR_CASES))
def test_tensor_refusals(case, bert, tmp_path):
    model, tensors = bert
    change, match = TENSOR_CASES[case]
    write_peft_dir(tmp_path / "a", BASE, change(dict(tensors)))
    _refused(model, tmp_path / "a", match)


def test_pickle_weights_are_never_read(bert, tmp_path):
    model, _ = bert
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "adapter_config.json").write_text(json.dumps({**BASE, "peft_type": "LORA"}))
    (tmp_path / "a" / "adapter_model.bin").write_bytes(b"\x80\x04 not to be unpickled")
    _refused(model, tmp_path / "a", r"adapter_model.bin, a pickle file, which is never read")


def test_files_that_are_not_peft_adapters(bert, tmp_path):
    model, tensors = bert
    _refused(model, tmp_path, "must be a PEFT adapter directory", FileNotFoundError)
    write_peft_dir(tmp_path / "a", BASE, tensors)
    (tmp_path / "a" / "adapter_config.json").write_text("{not json")
    _refused(model, tmp_path / "a", "is not valid JSON")
    write_peft_dir(tmp_path / "b", BASE, tensors)
    (tmp_path / "b" / "adapter_model.safetensors").write_bytes(
        b"\x10\x00\x00\x00\x00\x00\x00\x00{}"
    )
    _refused(model, tmp_path / "b", "Cannot read the safetensors file")
    write_peft_dir(tmp_path / "c", BASE, {})  # integer tensors are no LoRA weights
    safetensors.numpy.save_file(
        {BERT_LORA: np.zeros((2, 8), np.int64)}, str(tmp_path / "c" / "adapter_model.safetensors")
    )
    _refused(model, tmp_path / "c", "has dtype 'I64'")


def test_classifier_head_for_a_backbone_only(bert, tmp_path):
    model, tensors = bert
    head = {
        "base_model.model.classifier.weight": np.zeros((2, 8)),
        "base_model.model.classifier.bias": np.zeros(2),
    }
    config = {**BASE, "task_type": "SEQ_CLS", "modules_to_save": ["classifier"]}
    write_peft_dir(tmp_path / "a", config, {**tensors, **head})
    _refused(model.backbone, tmp_path / "a", r"held in KerasHub by the layer 'logits', which this")
    # PEFT's automatic SEQ_CLS names alone, with the head in the file: the same.
    write_peft_dir(tmp_path / "b", {**config, "modules_to_save": None}, {**tensors, **head})
    _refused(
        model.backbone, tmp_path / "b", "by the layer 'logits', which this model does not have"
    )
    # A head that is no module of the architecture cannot be placed at all.
    write_peft_dir(
        tmp_path / "c", BASE, {**tensors, "base_model.model.score.weight": np.zeros((2, 8))}
    )
    _refused(model, tmp_path / "c", r"not in model: base_model.model.score.weight \(2, 8\)")


def test_lm_head_of_a_tied_model(tmp_path):
    family = FAMILIES["qwen"]  # the tiny Qwen ties its embeddings: no separate lm_head
    model = family.make_model(0)
    tensors, _, _ = random_lora(model, family, ["self_attn.q_proj"])
    tensors["base_model.model.lm_head.weight"] = np.zeros((64, 16))
    config = {"r": 2, "lora_alpha": 2, "target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}
    write_peft_dir(tmp_path / "a", config, tensors)
    _refused(model, tmp_path / "a", "tied embeddings have no separate lm_head")


def test_name_already_used_and_unsupported_backbone(bert, tmp_path):
    model, tensors = bert
    write_peft_dir(tmp_path / "a", BASE, tensors)
    other = tiny_models.make_classifier("bert")
    keras_adapters.add_adapter(other, keras_adapters.LoraConfig(rank=2), "default", verbose=False)
    with pytest.raises(ValueError, match="'default' is already used"):
        keras_adapters.load_peft_adapter(other, tmp_path / "a")
    neo_x = tiny_decoders.make_causal_lm("gpt_neo_x")
    _refused(neo_x, tmp_path / "a", "PEFT files are not supported for GPTNeoXBackbone")
