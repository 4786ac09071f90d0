"""Writing adapters in PEFT's layout: the file alone means the same model, and loads back identically.

The written file is checked without keras-adapters' loader: its tensors go
through PEFT's formula onto the Hugging Face-layout weights of KerasHub's
converter (`hf_reference.py`), and that model must match the adapted one.
"""

import json

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.saving.peft.module_names import matches_target
from tests.saving.peft.hf_reference import (
    ENCODERS,
    FAMILIES,
    hf_weights,
    inputs_for,
    peft_merged,
    set_hf_weights,
)
from tests.support import tiny_decoders
from tests.support.tiny_models import randomize_adapters

HEAD = {  # Keras layer -> the Hugging Face module of the task class that it is
    "bert": {"logits": "classifier"},
    "roberta": {"pooled_dense": "classifier.dense", "logits": "classifier.out_proj"},
    "distil_bert": {"pooled_dense": "pre_classifier", "logits": "classifier"},
}


def _read(path):
    config = json.loads((path / "adapter_config.json").read_text())
    return config, safetensors.numpy.load_file(str(path / "adapter_model.safetensors"))


def _file_output(family, config, tensors, inputs):
    """The model PEFT would build from the file, computed on KerasHub's conversion of it."""
    reference = family.make_model(0)
    base = hf_weights(reference, family)
    scale = config["lora_alpha"] / (np.sqrt(config["r"]) if config["use_rslora"] else config["r"])
    merged, heads = {}, {}
    num_layers = reference.backbone.num_layers
    for i in range(num_layers):
        for module in family.modules:
            path = "base_model.model." + family.peft_module(i, module)
            if path + ".lora_A.weight" in tensors:
                key = family.converter_key(i, module)
                merged[key] = peft_merged(
                    base[key],
                    tensors[path + ".lora_A.weight"],
                    tensors[path + ".lora_B.weight"],
                    scale,
                    family.conv1d,
                    tensors.get(path + ".lora_magnitude_vector"),
                )
    set_hf_weights(reference, family, merged)
    for key, value in tensors.items():
        if "lora_" not in key:
            heads[key] = value
    return reference, heads


# Every family in the default run: an encoder, Llama 3, Gemma's heads-first layout, GPT-2's Conv1D.
DEFAULT_FAMILIES = ("bert", "llama3", "gemma", "gpt2")


@pytest.mark.parametrize(
    "family",
    [f if f in DEFAULT_FAMILIES else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES],
)
def test_file_means_the_same_model_and_loads_back(family, tmp_path):
    name, family = family, FAMILIES[family]
    source = family.make_model(0)
    config = keras_adapters.LoraConfig(
        rank=2,
        alpha=5,
        targets="all-linear",
        use_rslora=name == "llama3",
        dropout=0.1 if name == "llama3" else 0.0,
        modules_to_save=list(HEAD.get(name, {})),
    )
    keras_adapters.add_adapter(source, config, "task", verbose=False)
    randomize_adapters(source)
    rng = np.random.default_rng(3)
    for layer in HEAD.get(name, ()):
        for variable in source.get_layer(layer).weights:
            variable.assign(rng.normal(size=variable.shape).astype("float32"))
    inputs = inputs_for(family)
    keras_adapters.save_peft_adapter(source, tmp_path / "peft", base_model_name_or_path="tiny")
    written, tensors = _read(tmp_path / "peft")

    assert written["peft_type"] == "LORA" and written["bias"] == "none"
    assert written["fan_in_fan_out"] is family.conv1d
    assert written["use_rslora"] is (name == "llama3")
    assert written["task_type"] == ("SEQ_CLS" if name in ENCODERS else "CAUSAL_LM")
    assert written["base_model_name_or_path"] == "tiny"
    # PEFT's own matching rules select every block projection, and nothing else.
    paths = [family.peft_module(i, m) for i in range(2) for m in family.modules]
    outside = ["bert.pooler.dense", "classifier", "classifier.dense", "lm_head", "score"]
    selected = {p for p in paths + outside if matches_target(p, written["target_modules"])}
    assert selected == set(paths)
    assert all(tensors[k].dtype == np.float32 for k in tensors)

    reference, heads = _file_output(family, written, tensors, inputs)
    for layer, module in HEAD.get(name, {}).items():  # y = x W^T + b  <=>  kernel = W^T
        reference.get_layer(layer).kernel.assign(heads[f"base_model.model.{module}.weight"].T)
        reference.get_layer(layer).bias.assign(heads[f"base_model.model.{module}.bias"])
    expected = np.array(source(inputs))
    np.testing.assert_allclose(np.array(reference(inputs)), expected, atol=2e-5)

    target = family.make_model(0)
    keras_adapters.load_peft_adapter(target, tmp_path / "peft", adapter_name="task")
    np.testing.assert_allclose(np.array(target(inputs)), expected, atol=1e-6)
    assert sorted(v.path for v in target.trainable_weights if "/lora/" not in v.path) == sorted(
        v.path for v in source.trainable_weights if "/lora/" not in v.path
    )


def test_gpt2_fused_attention_with_separate_a_is_written_exactly(tmp_path):
    family = FAMILIES["gpt2"]
    source = family.make_model(0)
    config = keras_adapters.LoraConfig(rank=2, alpha=4, targets=["query", "value", "ffn_output"])
    keras_adapters.add_adapter(source, config, "task", verbose=False)
    randomize_adapters(source)
    keras_adapters.save_peft_adapter(source, tmp_path / "peft")
    written, tensors = _read(tmp_path / "peft")
    # Two A's (query, value) stack to rank 4; alpha doubles to keep alpha / r.
    assert (written["r"], written["lora_alpha"]) == (4, 8)
    assert written["target_modules"] == ["c_attn", "mlp.c_proj"]
    c_attn = "base_model.model.transformer.h.0.attn.c_attn"
    b = tensors[c_attn + ".lora_B.weight"]  # [3 * 16, 4]: query rows use A's 0-1, value 2-3
    assert b.shape == (48, 4)
    assert not b[:16, 2:].any() and not b[16:32].any() and not b[32:, :2].any()
    c_proj = tensors["base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight"]
    assert c_proj.shape == (4, 32) and not c_proj[2:].any()  # zero-padded to rank 4
    inputs = inputs_for(family)
    reference, _ = _file_output(family, written, tensors, inputs)
    np.testing.assert_allclose(np.array(reference(inputs)), np.array(source(inputs)), atol=2e-5)


@pytest.mark.parametrize("family", ["gpt2", pytest.param("bert", marks=pytest.mark.slow)])
def test_dora_round_trip(family, tmp_path):
    family = FAMILIES[family]
    source = family.make_model(0)
    config = keras_adapters.DoraConfig(rank=2, alpha=4, targets=["query", "value"])
    keras_adapters.add_adapter(source, config, "task", verbose=False)
    randomize_adapters(source)
    for variable in source.weights:  # magnitudes near the norms they start from
        if variable.path.endswith("/magnitude"):
            variable.assign(np.abs(variable.numpy()) + 1.0)
    keras_adapters.save_peft_adapter(source, tmp_path / "peft")
    written, tensors = _read(tmp_path / "peft")
    assert written["use_dora"] is True
    inputs = inputs_for(family)
    expected = np.array(source(inputs))
    reference, _ = _file_output(family, written, tensors, inputs)
    np.testing.assert_allclose(np.array(reference(inputs)), expected, atol=2e-5)
    target = family.make_model(0)
    keras_adapters.load_peft_adapter(target, tmp_path / "peft")
    # GPT-2's key slot comes back as DoRA with m = ||W||: the identity up to rounding.
    np.testing.assert_allclose(np.array(target(inputs)), expected, atol=1e-5)


def test_merged_adapter_is_saved_from_its_factors(tmp_path):
    family = FAMILIES["bert"]
    source = family.make_model(0)
    keras_adapters.add_adapter(source, keras_adapters.LoraConfig(rank=2), "task", verbose=False)
    randomize_adapters(source)
    inputs = inputs_for(family)
    expected = np.array(source(inputs))
    keras_adapters.merge_adapters(source)
    keras_adapters.save_peft_adapter(source, tmp_path / "peft")
    target = family.make_model(0)
    keras_adapters.load_peft_adapter(target, tmp_path / "peft")
    np.testing.assert_allclose(np.array(target(inputs)), expected, atol=1e-5)


def _written(model, config, tmp_path):
    keras_adapters.add_adapter(model, config, "task", verbose=False)
    keras_adapters.save_peft_adapter(model, tmp_path / "peft")
    return _read(tmp_path / "peft")[0]


@pytest.mark.parametrize(
    "model, targets, layers, expected",
    [
        ("bert", ["query", "value"], None, (["query", "value"], None)),
        ("bert", ["query"], [1], (["query"], [1])),
        ("bert", ["attention_output"], None, (["attention.output.dense"], None)),
        # "output.dense" would also match the attention output: a regex instead.
        ("bert", ["ffn_output"], [0], (r"bert\.encoder\.layer\.(?:0)\.(?:output\.dense)", None)),
        ("llama3_backbone", ["query"], [1], (r"layers\.(?:1)\.(?:self_attn\.q_proj)", None)),
        ("llama3", ["query"], [1], (["q_proj"], [1])),
    ],
    ids=["qv", "one_layer", "attention_output", "ffn_output", "bare_decoder", "decoder"],
)
def test_target_modules_written(model, targets, layers, expected, tmp_path):
    if model == "llama3_backbone":
        model = tiny_decoders.make_backbone("llama3")
    else:
        model = FAMILIES[model].make_model(0)
    config = keras_adapters.LoraConfig(rank=2, targets=targets, layers=layers)
    written = _written(model, config, tmp_path)
    assert (written["target_modules"], written["layers_to_transform"]) == expected
    task = "FEATURE_EXTRACTION" if model is getattr(model, "backbone", model) else None
    assert written["task_type"] == (task or ("SEQ_CLS" if "bert" in model.name else "CAUSAL_LM"))


def test_save_refusals(tmp_path):
    family = FAMILIES["bert"]
    model = family.make_model(0)
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.save_peft_adapter(model, tmp_path / "a")
    keras_adapters.add_adapter(
        model, keras_adapters.HoulsbyConfig(bottleneck_dim=2), "bottleneck", verbose=False
    )
    with pytest.raises(
        ValueError, match="holds LoRA and DoRA adapters; 'bottleneck' is a 'houlsby'"
    ):
        keras_adapters.save_peft_adapter(model, tmp_path / "a")
    config = keras_adapters.LoraConfig(rank=2, modules_to_save=["embeddings_layer_norm"])
    keras_adapters.add_adapter(model, config, "task", verbose=False)
    with pytest.raises(
        ValueError, match="'embeddings_layer_norm', whose weights .* have no Hugging"
    ):
        keras_adapters.save_peft_adapter(model, tmp_path / "a", adapter_name="task")
    with pytest.raises(ValueError, match="`adapter_name` must be one of"):
        keras_adapters.save_peft_adapter(model, tmp_path / "a", adapter_name="nope")
    assert not (tmp_path / "a").exists()

    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "notes.txt").write_text("not an adapter")
    keras_adapters.delete_adapter(model, "task")
    keras_adapters.add_adapter(model, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    with pytest.raises(FileExistsError, match="refusing to replace it"):
        keras_adapters.save_peft_adapter(model, ours, adapter_name="lora")
    keras_adapters.save_peft_adapter(model, tmp_path / "b", adapter_name="lora")
    with pytest.raises(FileExistsError, match="already holds a previous result"):
        keras_adapters.save_peft_adapter(
            model, tmp_path / "b", adapter_name="lora", overwrite=False
        )
    assert (ours / "notes.txt").read_text() == "not an adapter"

    neo_x = tiny_decoders.make_causal_lm("gpt_neo_x")
    config = keras_adapters.LoraConfig(rank=2, targets=["query_key_value"])
    keras_adapters.add_adapter(neo_x, config, "lora", verbose=False)
    with pytest.raises(ValueError, match="not supported for GPTNeoXBackbone"):
        keras_adapters.save_peft_adapter(neo_x, tmp_path / "c")
