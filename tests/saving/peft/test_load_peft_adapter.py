"""Loading PEFT LoRA directories: outputs equal PEFT's formula on KerasHub's own conversion.

Each test writes a directory with PEFT's key names and shapes, loads it, and
compares the model's output with a fresh copy of the model holding
`W + scale * B @ A` (computed in NumPy on the Hugging Face-layout weights
that KerasHub's converter reads and writes; see `hf_reference.py`).
"""

import json
import math
import struct
import warnings

import numpy as np
import pytest

import keras_adapters
from keras_adapters.injection.adapter_state import get_state
from tests.saving.peft.hf_reference import (
    FAMILIES,
    expected_output,
    inputs_for,
    random_lora,
    set_hf_weights,
    write_peft_dir,
)

ATOL = 2e-5  # float32 sums over a few hundred terms at unit scale


def _short_names(family):
    return sorted({m.rsplit(".", 1)[-1] for m in family.modules})


def _load_and_compare(family, model, tmp_path, config, tensors, factors, base, scale, extra=None):
    inputs = inputs_for(family)
    write_peft_dir(tmp_path / "adapter", config, tensors)
    name = keras_adapters.load_peft_adapter(model, tmp_path / "adapter")
    expected = expected_output(family, factors, base, scale, inputs, extra=extra)
    np.testing.assert_allclose(np.array(model(inputs)), expected, atol=ATOL)
    return model, name


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_module_of_every_block(family, tmp_path):
    family = FAMILIES[family]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, r=2, scale=3.0)
    config = {
        "r": 2,
        "lora_alpha": 6,
        "target_modules": _short_names(family),
        "fan_in_fan_out": family.conv1d,
    }
    model, name = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 3.0)
    assert name == "default"
    assert keras_adapters.list_adapters(model) == {
        "default": {"method": "lora", "active": True, "merged": False}
    }
    assert all("/lora/default/" in v.path for v in model.trainable_weights)


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "family", ["llama3", pytest.param("bert", marks=SLOW), pytest.param("gemma", marks=SLOW)]
)
def test_rslora_scale(family, tmp_path):
    family = FAMILIES[family]
    scale = 8 / math.sqrt(4)
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, r=4, scale=scale, seed=3)
    config = {
        "r": 4,
        "lora_alpha": 8,
        "use_rslora": True,
        "target_modules": _short_names(family),
        "fan_in_fan_out": family.conv1d,
    }
    model, _ = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, scale)
    assert get_state(model).configs["default"].use_rslora


@pytest.mark.parametrize("family", ["llama3", "gpt2", pytest.param("bert", marks=SLOW)])
def test_dora_magnitudes(family, tmp_path):
    family = FAMILIES[family]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, r=2, scale=2.0, dora=True)
    config = {
        "r": 2,
        "lora_alpha": 4,
        "use_dora": True,
        "target_modules": _short_names(family),
        "fan_in_fan_out": family.conv1d,
    }
    model, _ = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 2.0)
    assert isinstance(get_state(model).configs["default"], keras_adapters.DoraConfig)


def test_regex_target_modules_select_blocks_and_modules(tmp_path):
    family = FAMILIES["bert"]
    modules = ["attention.self.query", "attention.self.value"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, modules, layers=[1])
    config = {
        "r": 2,
        "lora_alpha": 2,
        "target_modules": r".*encoder\.layer\.1\.attention\.self\.(query|value)",
    }
    model, _ = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 1.0)
    config = get_state(model).configs["default"]
    assert (config.targets, config.layers) == (("query", "value"), (1,))


def test_regex_over_a_scattered_set_becomes_keras_path_regex(tmp_path):
    family = FAMILIES["llama3"]
    model = family.make_model(0)
    first, factors_0, base = random_lora(model, family, ["self_attn.q_proj"], [0])
    second, factors_1, _ = random_lora(model, family, ["mlp.down_proj"], [1], seed=1)
    config = {
        "r": 2,
        "lora_alpha": 2,
        "target_modules": r"model\.layers\.(0\.self_attn\.q_proj|1\.mlp\.down_proj)",
    }
    model, _ = _load_and_compare(
        family, model, tmp_path, config, {**first, **second}, {**factors_0, **factors_1}, base, 1.0
    )
    sites = sorted(v.path.split("/lora/")[0] for v in model.trainable_weights if "lora_a" in v.path)
    assert sites == [
        "transformer_layer_0/self_attention/query",
        "transformer_layer_1/feedforward_output_dense",
    ]


@pytest.mark.parametrize(
    "layers, pattern",
    [([1], None), (1, "layers"), pytest.param([0], ["layers"], marks=SLOW)],
    ids=["list", "int", "pattern"],
)
def test_layers_to_transform(layers, pattern, tmp_path):
    family = FAMILIES["llama3"]
    blocks = [layers] if isinstance(layers, int) else layers
    modules = ["self_attn.q_proj", "self_attn.v_proj"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, modules, blocks)
    config = {
        "r": 2,
        "lora_alpha": 4,
        "target_modules": ["q_proj", "v_proj"],
        "layers_to_transform": layers,
        "layers_pattern": pattern,
    }
    model, _ = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 2.0)
    assert get_state(model).configs["default"].layers == tuple(blocks)


def test_exclude_modules_and_default_targets(tmp_path):
    family = FAMILIES["mistral"]
    # target_modules null: PEFT's default for the architecture (q_proj, v_proj).
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, ["self_attn.q_proj"], [0, 1])
    v_only, v_factors, _ = random_lora(model, family, ["self_attn.v_proj"], [0], seed=1)
    config = {
        "r": 2,
        "lora_alpha": 2,
        "target_modules": None,
        "exclude_modules": r"model\.layers\.1\.self_attn\.v_proj",
    }
    _load_and_compare(
        family, model, tmp_path, config, {**tensors, **v_only}, {**factors, **v_factors}, base, 1.0
    )


def test_all_linear(tmp_path):
    family = FAMILIES["qwen"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family)
    config = {"r": 2, "lora_alpha": 2, "target_modules": "all-linear"}
    _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 1.0)


HEADS = {  # Hugging Face head modules of the task class, and the Keras layers holding them
    "bert": {"classifier": "logits"},
    "roberta": {"classifier.dense": "pooled_dense", "classifier.out_proj": "logits"},
    "distil_bert": {"pre_classifier": "pooled_dense", "classifier": "logits"},
}


@pytest.mark.parametrize(
    "family", ["roberta", pytest.param("bert", marks=SLOW), pytest.param("distil_bert", marks=SLOW)]
)
def test_classifier_head_from_seq_cls_modules_to_save(family, tmp_path):
    family_name, family = family, FAMILIES[family]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family)
    rng = np.random.default_rng(7)
    heads = {}
    for module, layer in HEADS[family_name].items():
        kernel = model.get_layer(layer).kernel
        heads[module] = (
            rng.normal(size=kernel.shape[::-1]).astype("float32"),  # torch.nn.Linear [out, in]
            rng.normal(size=kernel.shape[-1]).astype("float32"),
        )
        tensors[f"base_model.model.{module}.weight"] = heads[module][0]
        tensors[f"base_model.model.{module}.bias"] = heads[module][1]
    config = {
        "r": 2,
        "lora_alpha": 2,
        "target_modules": _short_names(family),
        "task_type": "SEQ_CLS",
        "modules_to_save": ["classifier", "score"],  # what a SEQ_CLS PeftModel writes
    }
    write_peft_dir(tmp_path / "adapter", config, tensors)
    keras_adapters.load_peft_adapter(model, tmp_path / "adapter")

    reference = family.make_model(0)
    merged = {k: base[k] + b @ a for k, (a, b, _) in factors.items()}
    set_hf_weights(reference, family, merged)
    for module, layer in HEADS[family_name].items():  # y = x W^T + b  <=>  kernel = W^T
        reference.get_layer(layer).kernel.assign(heads[module][0].T)
        reference.get_layer(layer).bias.assign(heads[module][1])
    inputs = inputs_for(family)
    np.testing.assert_allclose(np.array(model(inputs)), np.array(reference(inputs)), atol=ATOL)
    saved = get_state(model).configs["default"].modules_to_save
    assert sorted(saved) == sorted(HEADS[family_name].values())
    trainable = {v.path for v in model.trainable_weights if "/lora/" not in v.path}
    assert trainable == {f"{layer}/{w}" for layer in saved for w in ("kernel", "bias")}


def test_embeddings_and_lm_head_through_keras_hub_converter(tmp_path):
    family = FAMILIES["llama3"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, ["self_attn.q_proj"])
    rng = np.random.default_rng(5)
    vocabulary, hidden = model.backbone.vocabulary_size, model.backbone.hidden_dim
    extra = {
        "model.embed_tokens.weight": rng.normal(size=(vocabulary, hidden)),
        "lm_head.weight": rng.normal(size=(vocabulary, hidden)),
    }
    tensors["base_model.model.model.embed_tokens.weight"] = extra["model.embed_tokens.weight"]
    tensors["base_model.model.lm_head.weight"] = extra["lm_head.weight"]
    config = {
        "r": 2,
        "lora_alpha": 2,
        "target_modules": ["q_proj"],
        "modules_to_save": ["embed_tokens", "lm_head"],
        "task_type": "CAUSAL_LM",
    }
    model, _ = _load_and_compare(
        family, model, tmp_path, config, tensors, factors, base, 1.0, extra
    )
    assert get_state(model).configs["default"].modules_to_save == ("token_embedding",)


def test_gpt2_conv1d_file_and_fan_in_fan_out_corrected_like_peft(tmp_path):
    family = FAMILIES["gpt2"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, ["attn.c_attn"])
    config = {"r": 2, "lora_alpha": 2, "target_modules": ["c_attn"], "fan_in_fan_out": False}
    with pytest.warns(UserWarning, match="fan_in_fan_out=False.*Conv1D"):
        model, _ = _load_and_compare(family, model, tmp_path, config, tensors, factors, base, 1.0)
    # One fused module: the query, key and value layers share A and split B.
    state = get_state(model).configs["default"]
    assert state.targets == ("query", "key", "value")


def test_bare_base_model_file_loads_onto_the_backbone(tmp_path):
    family = FAMILIES["bert"]
    classifier = family.make_model(0)
    tensors, factors, base = random_lora(classifier, family, ["attention.self.value"])
    bare = {k.replace("base_model.model.bert.", "base_model.model."): v for k, v in tensors.items()}
    write_peft_dir(tmp_path / "a", {"r": 2, "lora_alpha": 2, "target_modules": ["value"]}, bare)
    keras_adapters.load_peft_adapter(classifier.backbone, tmp_path / "a", adapter_name="bare")
    inputs = inputs_for(family)
    expected = expected_output(family, factors, base, 1.0, inputs)
    np.testing.assert_allclose(np.array(classifier(inputs)), expected, atol=ATOL)


def test_lora_dropout_adapter_name_and_activate(tmp_path):
    family = FAMILIES["distil_bert"]
    model = family.make_model(0)
    before = np.array(model(inputs_for(family)))
    tensors, _, _ = random_lora(model, family, ["attention.q_lin"])
    config = {"r": 2, "lora_alpha": 2, "lora_dropout": 0.1, "target_modules": ["q_lin"]}
    write_peft_dir(tmp_path / "a", config, tensors)
    keras_adapters.add_adapter(model, keras_adapters.IA3Config(), "other", verbose=False)
    keras_adapters.load_peft_adapter(model, tmp_path / "a", adapter_name="sst2", activate=False)
    state = get_state(model)
    assert state.active == ("other",) and state.configs["sst2"].dropout == 0.1
    keras_adapters.delete_adapter(model, "other")
    keras_adapters.set_active_adapters(model, "sst2")
    layer = model.backbone.transformer_layers[0]._self_attention_layer._query_dense
    assert layer.get_adapter("sst2").dropout == 0.1
    keras_adapters.disable_adapters(model)
    np.testing.assert_allclose(np.array(model(inputs_for(family))), before, atol=1e-6)


def _write_bf16_safetensors(path, tensors):
    header, body = {}, b""
    for name, value in tensors.items():
        raw = (np.asarray(value, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(value.shape),
            "data_offsets": [len(body), len(body) + len(raw)],
        }
        body += raw
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + body)


def test_bfloat16_file(tmp_path):
    family = FAMILIES["llama3"]
    model = family.make_model(0)
    tensors, factors, base = random_lora(model, family, ["self_attn.v_proj"])
    rounded = {  # what bfloat16 keeps: the upper 16 bits of each float32
        k: (np.asarray(v, np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
        for k, v in tensors.items()
    }
    write_peft_dir(tmp_path / "a", {"r": 2, "lora_alpha": 2, "target_modules": ["v_proj"]}, {})
    _write_bf16_safetensors(tmp_path / "a" / "adapter_model.safetensors", tensors)
    keras_adapters.load_peft_adapter(model, tmp_path / "a")
    for i in (0, 1):
        path = "base_model.model." + family.peft_module(i, "self_attn.v_proj")
        factors[family.converter_key(i, "self_attn.v_proj")] = (
            rounded[path + ".lora_A.weight"],
            rounded[path + ".lora_B.weight"],
            None,
        )
    inputs = inputs_for(family)
    expected = expected_output(family, factors, base, 1.0, inputs)
    np.testing.assert_allclose(np.array(model(inputs)), expected, atol=ATOL)


def test_unknown_config_fields_warn_and_load(tmp_path):
    family = FAMILIES["bert"]
    model = family.make_model(0)
    tensors, _, _ = random_lora(model, family, ["attention.self.query"])
    config = {"r": 2, "lora_alpha": 2, "target_modules": ["query"], "future_feature": 3}
    write_peft_dir(tmp_path / "a", config, tensors)
    with pytest.warns(UserWarning, match="future_feature"):
        keras_adapters.load_peft_adapter(model, tmp_path / "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config.pop("future_feature")
        write_peft_dir(tmp_path / "b", config, tensors)
        keras_adapters.load_peft_adapter(model, tmp_path / "b", adapter_name="again")
