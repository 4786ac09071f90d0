import numpy as np
import pytest

from keras_adapters.assets import read_gguf
from tests.assets.tiny_gguf import CONFIG, TEMPLATE, TOKENS, write_tiny_llama_gguf


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.gguf"
    return path, write_tiny_llama_gguf(path, tied=False)


def test_metadata_values_are_plain_python(tiny):
    path, _ = tiny
    metadata = read_gguf(path).metadata
    assert metadata["general.architecture"] == "llama"
    assert metadata["llama.block_count"] == 2
    assert type(metadata["llama.block_count"]) is int
    # Stored as float32: the float64 value is float32(0.05).
    assert metadata["llama.attention.layer_norm_rms_epsilon"] == float(np.float32(CONFIG["eps"]))
    assert type(metadata["llama.rope.freq_base"]) is float
    assert metadata["tokenizer.ggml.add_bos_token"] is False
    assert metadata["tokenizer.ggml.tokens"] == TOKENS
    assert metadata["tokenizer.ggml.token_type"][:4] == [3, 3, 3, 1]
    assert metadata["tokenizer.chat_template"] == TEMPLATE


def test_every_tensor_is_dequantised_to_float32(tiny):
    path, expected = tiny
    contents = read_gguf(path)
    assert contents.tensor_types == expected["types"]
    assert contents.tensor_types["blk.0.attn_q.weight"] == "Q4_1"
    assert contents.tensor_types["token_embd.weight"] == "Q8_0"
    assert set(contents.tensors) == set(expected["stored"])
    for name, values in expected["stored"].items():
        array = contents.tensors[name]
        assert array.dtype == np.float32
        assert array.flags.writeable and array.flags.owndata
        np.testing.assert_array_equal(array, values, err_msg=name)
    # Shapes are NumPy's (out, in), the reverse of GGUF's dimension list.
    assert contents.tensors["blk.1.ffn_down.weight"].shape == (64, 96)
    assert contents.tensors["token_embd.weight"].shape == (len(TOKENS), 64)


def test_metadata_only(tiny):
    path, _ = tiny
    contents = read_gguf(path, tensors=False)
    assert contents.tensors == {}
    assert contents.metadata == read_gguf(path).metadata
    assert "blk.0.attn_q.weight" in contents.tensor_types


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00{}")
    with pytest.raises(ValueError, match="Not a GGUF file") as info:
        read_gguf(path)
    assert f"Received: path={str(path)!r}" in str(info.value)


def test_truncated_gguf(tiny, tmp_path):
    path, _ = tiny
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="could not be parsed"):
        read_gguf(truncated)


def test_missing_file_and_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="No GGUF file"):
        read_gguf(tmp_path / "absent.gguf")
    with pytest.raises(ValueError, match="Received: path=None"):
        read_gguf(None)
