import json
import sys

import keras_hub
import numpy as np
import pytest
import sentencepiece
from safetensors.numpy import load_file
from sentencepiece import sentencepiece_model_pb2

from keras_adapters.assets import convert_gemma3_gguf
from tests.assets.numpy_decoders import gemma3_logits
from tests.assets.tiny_gemma3_gguf import CONFIG, SCORES, TOKENS, write_tiny_gemma3_gguf
from tests.assets.tiny_gguf import write_tiny_llama_gguf

convert_module = sys.modules["keras_adapters.assets.convert_gemma3_gguf"]

HP = {
    "layers": CONFIG["layers"],
    "heads": CONFIG["heads"],
    "kv_heads": CONFIG["kv_heads"],
    "head_dim": CONFIG["head_dim"],
    "eps": CONFIG["eps"],
    "rope_global": 1_000_000.0,
    "rope_local": 10_000.0,
    "window": CONFIG["window"],
    "pattern": 6,
}
# Longer than the window, so that sliding-window layers matter.
TOKEN_IDS = [2, 27, 36, 9, 18, 20, 14, 22, 33, 29, 11, 12]


def convert(tmp_path, **kwargs):
    path = tmp_path / "tiny.gguf"
    stored = write_tiny_gemma3_gguf(path, **kwargs)
    out = tmp_path / "out"
    out.mkdir()
    return out, convert_gemma3_gguf(path, out), stored


def load_backbone(out, config):
    backbone = keras_hub.models.Gemma3Backbone(**config)
    weights = load_file(str(out / "gemma3_backbone.safetensors"))
    assert set(weights) == {v.path for v in backbone.weights}
    for variable in backbone.weights:
        variable.assign(weights[variable.path])
    return backbone


def test_config_from_metadata(tmp_path):
    out, config, _ = convert(tmp_path)
    assert json.loads((out / "gemma3_backbone.json").read_text()) == config
    assert config == {
        "vocabulary_size": len(TOKENS),
        "image_size": None,
        "num_layers": 7,
        "num_query_heads": 4,
        "num_key_value_heads": 2,
        "hidden_dim": 64,
        "intermediate_dim": 96,
        "head_dim": 32,
        "query_head_dim_normalize": True,
        "use_query_key_norm": True,
        "use_post_ffw_norm": True,
        "use_post_attention_norm": True,
        "attention_logit_soft_cap": None,
        "final_logit_soft_cap": None,
        "use_sliding_window_attention": True,
        "sliding_window_size": 3,
        "local_rope_scaling_factor": 1.0,
        "global_rope_scaling_factor": 1.0,
        "layer_norm_epsilon": 1e-6,
    }
    assert json.loads((out / "tokenizer_config.json").read_text()) == {
        "add_bos_token": True,
        "add_eos_token": False,
    }


def test_weights_layout_and_norm_offset(tmp_path):
    out, _, stored = convert(tmp_path)
    weights = load_file(str(out / "gemma3_backbone.safetensors"))
    d, h = CONFIG["head_dim"], CONFIG["hidden"]
    q = stored["blk.0.attn_q.weight"]  # (heads * d, hidden), Q5_0
    kernel = weights["decoder_block_0/attention/query/kernel"]
    assert kernel.shape == (4, h, d)
    np.testing.assert_array_equal(kernel[1, :, 3], q[1 * d + 3])
    out_proj = stored["blk.5.attn_output.weight"]  # (hidden, heads * d)
    kernel = weights["decoder_block_5/attention/attention_output/kernel"]
    assert kernel.shape == (4, d, h)
    np.testing.assert_array_equal(kernel[2, 5], out_proj[:, 2 * d + 5])
    np.testing.assert_array_equal(
        weights["decoder_block_6/ffw_linear/kernel"],
        stored["blk.6.ffn_down.weight"].T,
    )
    np.testing.assert_array_equal(
        weights["decoder_block_3/ffw_gating_2/kernel"],
        stored["blk.3.ffn_up.weight"].T,
    )
    np.testing.assert_array_equal(
        weights["token_embedding/embeddings"], stored["token_embd.weight"]
    )
    # KerasHub multiplies by (1 + scale); GGUF stores the product's factor.
    np.testing.assert_allclose(
        weights["decoder_block_2/attention/key_norm/scale"] + 1,
        stored["blk.2.attn_k_norm.weight"],
        atol=1e-7,
    )
    np.testing.assert_allclose(
        weights["final_normalization/scale"] + 1,
        stored["output_norm.weight"],
        atol=1e-7,
    )


def test_keras_hub_logits_match_numpy_reference(tmp_path):
    out, config, stored = convert(tmp_path)
    backbone = load_backbone(out, config)
    x = {
        "token_ids": np.array([TOKEN_IDS]),
        "padding_mask": np.ones((1, len(TOKEN_IDS)), "int32"),
    }
    logits = np.asarray(backbone.token_embedding(backbone(x), reverse=True))[0]
    reference = gemma3_logits(stored, HP, TOKEN_IDS)
    assert np.abs(logits - reference).max() < 1e-4
    # The sliding window is exercised: other windows give other logits.
    for window in (None, 2, 4):
        other = gemma3_logits(stored, {**HP, "window": window}, TOKEN_IDS)
        assert np.abs(logits - other).max() > 1e-2


def test_sentencepiece_tokenizer(tmp_path):
    out, _, _ = convert(tmp_path)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((out / "tokenizer.model").read_bytes())
    assert [p.piece for p in proto.pieces] == TOKENS
    assert [p.score for p in proto.pieces] == SCORES
    types = [p.type for p in proto.pieces]
    assert types[3] == 2  # the unknown token is SentencePiece's UNKNOWN
    assert types[:3] == [3, 3, 3] and types[9] == 4 and types[10] == 1
    spec = proto.trainer_spec
    assert (spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id) == (3, 2, 1, 0)
    assert spec.byte_fallback is False  # no <0x..> pieces in this vocabulary
    assert proto.normalizer_spec.add_dummy_prefix is False

    text = "hello world\nhello"
    expected = ["hello", "▁world", "\n", "hello"]
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())
    assert processor.encode(text, out_type=str) == expected
    tokenizer = keras_hub.models.Gemma3Tokenizer(proto=str(out / "tokenizer.model"))
    ids = np.asarray(tokenizer(text)).tolist()
    assert [TOKENS[i] for i in ids] == expected
    assert tokenizer.detokenize(ids) == text
    assert tokenizer.start_token_id == 2 and tokenizer.end_token_id == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"overrides": {"rope.freq_base": (10_000.0, "float32")}},
            "`gemma3.rope.freq_base` must be 1000000.0 .*Received: gemma3.rope.freq_base=10000.0",
        ),
        (
            {"overrides": {"attention.value_length": (16, "uint32")}},
            "Received: gemma3.attention.value_length=16",
        ),
        (
            {"drop_tensors": ("blk.6.attn_q_norm.weight",)},
            "do not match a 7-layer Gemma 3. Missing: \\['blk.6.attn_q_norm.weight'\\]",
        ),
        (
            {"extra_tensors": {"output.weight": np.zeros((38, 64), "f4")}},
            "always ties the output projection",
        ),
        (
            {"architecture": "gemma2"},
            "reads \\['gemma3'\\]. Received: general.architecture='gemma2'",
        ),
        (
            {"tokenizer_model": "gpt2"},
            "must be 'llama'. Received: tokenizer.ggml.model='gpt2'",
        ),
    ],
)
def test_bad_checkpoints_fail_clearly_and_write_nothing(tmp_path, kwargs, message):
    path = tmp_path / "bad.gguf"
    write_tiny_gemma3_gguf(path, **kwargs)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match=message):
        convert_gemma3_gguf(path, out)
    assert list(out.iterdir()) == []


def test_a_llama_file_is_refused(tmp_path):
    path = tmp_path / "llama.gguf"
    write_tiny_llama_gguf(path)
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="general.architecture='llama'"):
        convert_gemma3_gguf(path, tmp_path / "out")


def test_27b_scales_queries_by_hidden_over_heads():
    # llama.cpp's rule: 1/sqrt(hidden/heads) for the 62-layer model only.
    metadata = {
        "general.architecture": "gemma3",
        "gemma3.attention.key_length": 128,
        "gemma3.rope.freq_base": 1_000_000.0,
        "gemma3.block_count": 62,
        "gemma3.attention.head_count": 32,
        "gemma3.attention.head_count_kv": 16,
        "gemma3.embedding_length": 5376,
        "gemma3.feed_forward_length": 21504,
        "gemma3.attention.layer_norm_rms_epsilon": 1e-6,
        "gemma3.vocab_size": 262144,
    }
    config = convert_module.gemma3_config_from_gguf(metadata, set())
    assert config["query_head_dim_normalize"] is False
    metadata["gemma3.block_count"] = 26
    config = convert_module.gemma3_config_from_gguf(metadata, set())
    assert config["query_head_dim_normalize"] is True
    assert config["use_sliding_window_attention"] is False
