import json
import sys

import keras_hub
import numpy as np
import pytest
from safetensors.numpy import load_file

from keras_adapters.assets import convert_llama_gguf
from keras_adapters.assets.convert_llama_gguf import unpermute_rotary_rows
from tests.assets.numpy_decoders import llama_logits
from tests.assets.tiny_gguf import (
    CONFIG,
    MERGES,
    TEMPLATE,
    TOKENS,
    llama_cpp_permute,
    write_tiny_llama_gguf,
)

convert_module = sys.modules["keras_adapters.assets.convert_llama_gguf"]

HP = {
    "layers": CONFIG["layers"],
    "heads": CONFIG["heads"],
    "kv_heads": CONFIG["kv_heads"],
    "eps": CONFIG["eps"],
    "rope_theta": CONFIG["rope_theta"],
}
TOKEN_IDS = np.array([1, 16, 21, 12, 3, 5, 20, 7, 22, 2, 9])


def convert(tmp_path, **kwargs):
    path = tmp_path / "tiny.gguf"
    expected = write_tiny_llama_gguf(path, **kwargs)
    out = tmp_path / "out"
    out.mkdir()
    config = convert_llama_gguf(path, out)
    return out, config, expected


def keras_hub_logits(folder, **kwargs):
    backbone = keras_hub.models.Llama3Backbone.from_preset(str(folder), **kwargs)
    x = {
        "token_ids": TOKEN_IDS[None],
        "padding_mask": np.ones((1, len(TOKEN_IDS)), "int32"),
    }
    hidden = backbone(x)
    return np.asarray(backbone.token_embedding(hidden, reverse=True))[0]


@pytest.mark.parametrize("heads", [1, 3, 4])
def test_unpermute_inverts_llama_cpp_permutation(heads):
    weight = np.random.default_rng(heads).normal(size=(heads * 8, 5))
    permuted = llama_cpp_permute(weight, heads)
    assert not np.array_equal(permuted, weight)
    np.testing.assert_array_equal(unpermute_rotary_rows(permuted, heads), weight)
    with pytest.raises(ValueError, match=r"Received: shape=\(12, 5\)"):
        unpermute_rotary_rows(np.zeros((12, 5)), 4)


@pytest.mark.parametrize("tied", [True, False])
def test_config_names_and_values(tmp_path, tied):
    out, config, expected = convert(tmp_path, tied=tied)
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert json.loads((out / "config.json").read_text()) == config
    assert config == {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": len(TOKENS),
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "hidden_act": "silu",
        "max_position_embeddings": 128,
        "rms_norm_eps": 0.05,
        "rope_theta": 5000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": tied,
        "torch_dtype": "float32",
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    weights = load_file(str(out / "model.safetensors"))
    assert set(weights) == set(expected["hf"])
    assert ("lm_head.weight" in weights) is not tied
    for name, values in expected["hf"].items():
        assert weights[name].dtype == np.float32
        np.testing.assert_array_equal(weights[name], values, err_msg=name)


def test_tokenizer_files(tmp_path):
    out, _, _ = convert(tmp_path)
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    assert tokenizer["model"]["type"] == "BPE"
    assert tokenizer["model"]["vocab"] == {t: i for i, t in enumerate(TOKENS)}
    assert tokenizer["model"]["merges"] == MERGES
    added = {t["content"]: (t["id"], t["special"]) for t in tokenizer["added_tokens"]}
    assert added == {
        "<|endoftext|>": (0, True),
        "<|im_start|>": (1, True),
        "<|im_end|>": (2, True),
        "<tool>": (22, False),
    }
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert config["bos_token"] == "<|im_start|>"
    assert config["eos_token"] == "<|im_end|>"
    assert config["pad_token"] == "<|im_end|>"
    assert config["unk_token"] == "<|endoftext|>"
    assert config["add_bos_token"] is False
    assert config["chat_template"] == TEMPLATE
    assert config["model_max_length"] == 128

    tokens = keras_hub.models.Llama3Tokenizer.from_preset(str(out))
    ids = np.asarray(tokens("<|im_start|>hello world<|im_end|>\nhello<tool>"))
    assert [TOKENS[i] for i in ids] == [
        "<|im_start|>",
        "hello",
        "Ġworld",
        "<|im_end|>",
        "Ċ",
        "hello",
        "<tool>",
    ]
    assert tokens.start_token_id == 1 and tokens.end_token_id == 2


@pytest.mark.parametrize("tied", [True, False])
def test_keras_hub_logits_match_numpy_reference(tmp_path, tied):
    out, config, expected = convert(tmp_path, tied=tied)
    # The reference runs on the tensors as llama.cpp stored them.
    reference = llama_logits(expected["stored"], HP, TOKEN_IDS)
    logits = keras_hub_logits(out, layer_norm_epsilon=config["rms_norm_eps"])
    assert np.abs(logits - reference).max() < 1e-4
    # KerasHub's converter alone drops `rms_norm_eps` (uses 1e-6).
    wrong_eps = keras_hub_logits(out)
    assert np.abs(wrong_eps - reference).max() > 1e-2


def test_without_unpermuting_the_logits_disagree(tmp_path, monkeypatch):
    monkeypatch.setattr(convert_module, "unpermute_rotary_rows", lambda weight, heads: weight)
    out, config, expected = convert(tmp_path)
    reference = llama_logits(expected["stored"], HP, TOKEN_IDS)
    logits = keras_hub_logits(out, layer_norm_epsilon=config["rms_norm_eps"])
    assert np.abs(logits - reference).max() > 1e-2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"architecture": "falcon"},
            "Unsupported GGUF architecture.*reads \\['llama'\\]. "
            "Received: general.architecture='falcon'",
        ),
        (
            {"drop_tensors": ("blk.1.ffn_up.weight",)},
            "do not match a 2-layer Llama. Missing: "
            "\\['blk.1.ffn_up.weight'\\]. Unexpected: \\[\\]",
        ),
        (
            {"extra_tensors": {"blk.0.attn_q.bias": np.zeros(64, np.float32)}},
            "Missing: \\[\\]. Unexpected: \\['blk.0.attn_q.bias'\\]",
        ),
        (
            {"extra_tensors": {"rope_freqs.weight": np.ones(8, np.float32)}},
            "rope_freqs.weight",
        ),
        (
            {"drop_metadata": ("embedding_length",)},
            "lacks the metadata key `llama.embedding_length`",
        ),
        (
            {"metadata": {"llama.rope.scaling.type": "yarn"}},
            "`llama.rope.scaling.type`='yarn'",
        ),
        (
            {"tokenizer_model": "llama"},
            "must be 'gpt2'. Received: tokenizer.ggml.model='llama'",
        ),
    ],
)
def test_bad_checkpoints_fail_clearly_and_write_nothing(tmp_path, kwargs, message):
    path = tmp_path / "bad.gguf"
    write_tiny_llama_gguf(path, **kwargs)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=message) as info:
        convert_llama_gguf(path, out)
    assert str(path) in str(info.value)
    assert list(out.iterdir()) == []


def test_wrong_shape_is_reported(tmp_path):
    path = tmp_path / "tiny.gguf"
    expected = write_tiny_llama_gguf(path)
    tensors = dict(expected["stored"])
    tensors["blk.0.ffn_gate.weight"] = tensors["blk.0.ffn_gate.weight"][:32]
    config = convert_module.llama_config_from_gguf(
        {
            "general.architecture": "llama",
            "llama.embedding_length": 64,
            "llama.feed_forward_length": 96,
            "llama.block_count": 2,
            "llama.attention.head_count": 4,
            "llama.attention.head_count_kv": 2,
            "llama.context_length": 128,
            "llama.attention.layer_norm_rms_epsilon": 1e-5,
            "llama.vocab_size": len(TOKENS),
        },
        set(tensors),
    )
    with pytest.raises(
        ValueError,
        match=r"'blk.0.ffn_gate.weight'.*\(96, 64\).*"
        r"Received: shape=\(32, 64\)",
    ):
        convert_module.llama_weights_from_gguf(tensors, config)
