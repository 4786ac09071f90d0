"""`masked_lm_for` and the two stages of two-stage training on a tiny BERT."""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
from tests.support.tiny_models import make_backbone, weights_by_path

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(25)]
TEXTS = [" ".join(f"w{(3 * i + j) % 25}" for j in range(4 + i % 5)) for i in range(16)]


@pytest.mark.parametrize(
    ("kind", "task_class"),
    [
        ("bert", keras_hub.models.BertMaskedLM),
        ("roberta", keras_hub.models.RobertaMaskedLM),
        ("xlm_roberta", keras_hub.models.XLMRobertaMaskedLM),  # a RobertaBackbone subclass
        ("distil_bert", keras_hub.models.DistilBertMaskedLM),
        ("albert", keras_hub.models.AlbertMaskedLM),
        ("deberta_v3", keras_hub.models.DebertaV3MaskedLM),
    ],
)
def test_the_task_of_the_backbone_class_around_the_same_backbone(kind, task_class):
    backbone = make_backbone(kind)
    masked_lm = keras_adapters.models.masked_lm_for(backbone)
    assert type(masked_lm) is task_class
    assert masked_lm.backbone is backbone and masked_lm.preprocessor is None


def test_subclasses_and_adapted_backbones_get_their_base_class_task():
    exact = keras_adapters.models.ExactGeluBertBackbone.from_backbone(make_backbone())
    keras_adapters.add_adapter(
        exact, keras_adapters.PfeifferConfig(bottleneck_dim=2), "d", verbose=False
    )
    masked_lm = keras_adapters.models.masked_lm_for(exact)
    assert type(masked_lm) is keras_hub.models.BertMaskedLM and masked_lm.backbone is exact


def test_the_preprocessor_predicts_as_many_positions_as_the_rate_selects():
    backbone = make_backbone(vocabulary_size=len(VOCABULARY))
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
    masked_lm = keras_adapters.models.masked_lm_for(backbone, tokenizer, sequence_length=16)
    preprocessor = masked_lm.preprocessor
    assert isinstance(preprocessor, keras_hub.models.BertMaskedLMPreprocessor)
    assert preprocessor.sequence_length == 16 and preprocessor.mask_selection_length == 3
    # In tf.data (as in `fit`) KerasHub selects ceil(rate * maskable tokens): 14 -> 3.
    texts = tf.data.Dataset.from_tensor_slices([" ".join(["w1"] * 30), "w1 w2 w3"])
    (long, long_weights), (short, short_weights) = [
        (x, w.numpy()) for x, _, w in texts.map(preprocessor)
    ]
    assert long["token_ids"].shape == (16,) and long["mask_positions"].shape == (3,)
    assert long_weights.sum() == 3 and short_weights.sum() == 1  # ceil(0.45) = 1
    custom = keras_adapters.models.masked_lm_for(
        backbone, tokenizer, sequence_length=16, mask_selection_length=5
    )
    assert custom.preprocessor.mask_selection_length == 5


def test_bad_input():
    with pytest.raises(ValueError, match=r"masked-LM task in KerasHub \(.*BertBackbone.*"):
        keras_adapters.models.masked_lm_for(make_backbone("electra"))
    backbone = make_backbone()
    with pytest.raises(ValueError, match="Received: sequence_length=0"):
        keras_adapters.models.masked_lm_for(backbone, sequence_length=0)
    for rate in (0, 1.5, True, "0.15"):
        with pytest.raises(ValueError, match=r"Received: mask_selection_rate="):
            keras_adapters.models.masked_lm_for(backbone, mask_selection_rate=rate)
    with pytest.raises(ValueError, match="Received: mask_selection_length=0"):
        keras_adapters.models.masked_lm_for(backbone, mask_selection_length=0)


@pytest.mark.slow
def test_two_stages_train_only_the_adapter_and_head_then_only_the_task_adapter(tmp_path):
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY)
    backbone = make_backbone(vocabulary_size=len(VOCABULARY))
    masked_lm = keras_adapters.models.masked_lm_for(backbone, tokenizer, sequence_length=12)
    config = keras_adapters.PfeifferConfig(bottleneck_dim=2)
    keras_adapters.add_adapter(backbone, config, "domain", verbose=False)
    masked_lm.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    before = weights_by_path(masked_lm)
    masked_lm.fit(TEXTS, batch_size=8, epochs=2, verbose=0)
    moved = {p for p, w in weights_by_path(masked_lm).items() if not np.array_equal(w, before[p])}
    # Stage 1: the adapter and the new head train; the embedding the head shares does not.
    assert {p.split("/")[0] for p in moved if "/domain/" not in p} == {"mlm_head"}
    assert any("/domain/" in p for p in moved) and "token_embedding/embeddings" not in moved
    keras_adapters.save_adapter(backbone, tmp_path / "domain")
    saved = json.loads((tmp_path / "domain" / "adapter_config.json").read_text())["weights"]
    assert saved and not any("mlm_head" in k or k.startswith("modules_to_save/") for k in saved)

    # Stage 2: a classifier on a fresh copy of the pretrained backbone.
    classifier = keras_hub.models.BertTextClassifier(
        make_backbone(vocabulary_size=len(VOCABULARY)), num_classes=2, preprocessor=None
    )
    keras_adapters.load_adapter(classifier, tmp_path / "domain", activate=False)
    keras_adapters.add_adapter(
        classifier, config.replace(modules_to_save=["logits"]), "task", verbose=False
    )
    keras_adapters.set_active_adapters(
        classifier, keras_adapters.Stack("domain", "task"), train=["task"]
    )
    domain = {p: w for p, w in weights_by_path(masked_lm).items() if "/domain/" in p}
    assert all(np.array_equal(weights_by_path(classifier)[p], w) for p, w in domain.items())
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = {
        "token_ids": np.array([[2, 5, 6, 7, 3, 0]] * 4),
        "segment_ids": np.zeros((4, 6), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 0]] * 4),
    }
    before = weights_by_path(classifier)
    classifier.fit(x, np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    moved = {p for p, w in weights_by_path(classifier).items() if not np.array_equal(w, before[p])}
    assert moved and all("/task/" in p or p.startswith("logits/") for p in moved)
