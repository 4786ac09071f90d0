import math

import keras
import keras_hub
import numpy as np
import pytest

from keras_adapters.models import ExactGeluBertBackbone

TINY = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    max_sequence_length=12,
)


def exact_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def inputs(batch=2, length=7, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    mask[0, -2:] = 0
    return {
        "token_ids": rng.integers(0, TINY["vocabulary_size"], (batch, length)).astype("int32"),
        "segment_ids": rng.integers(0, 2, (batch, length)).astype("int32"),
        "padding_mask": mask,
    }


def outputs(model, x):
    return {k: np.asarray(v) for k, v in model(x).items()}


def widen_intermediate_kernels(model, seed=0):
    """Large kernels, so pre-activations reach where tanh-GELU is off."""
    rng = np.random.default_rng(seed)
    for block in model.transformer_layers:
        dense = block._feedforward_intermediate_dense
        dense.kernel.assign(rng.normal(0, 1.5, dense.kernel.shape))


@pytest.fixture(scope="module")
def approx_backbone():
    keras.utils.set_random_seed(0)
    model = keras_hub.models.BertBackbone(**TINY)
    widen_intermediate_kernels(model)
    return model


@pytest.fixture(scope="module")
def exact_backbone(approx_backbone):
    return ExactGeluBertBackbone.from_backbone(approx_backbone)


def test_every_block_uses_exact_gelu(exact_backbone, approx_backbone):
    assert isinstance(exact_backbone, keras_hub.models.BertBackbone)
    for block in exact_backbone.transformer_layers:
        assert block.activation is keras.activations.gelu
        dense = block._feedforward_intermediate_dense
        assert dense.activation is keras.activations.gelu
        assert block.get_config()["activation"] == "gelu"
    # The source backbone keeps KerasHub's approximate GELU.
    for block in approx_backbone.transformer_layers:
        assert block.activation is not keras.activations.gelu


def test_intermediate_dense_matches_numpy_erf_gelu(exact_backbone, approx_backbone):
    x = np.random.default_rng(1).normal(0, 1, (3, 5, TINY["hidden_dim"]))
    x = x.astype("float32")
    exact_dense = exact_backbone.transformer_layers[0]._feedforward_intermediate_dense
    approx_dense = approx_backbone.transformer_layers[0]._feedforward_intermediate_dense
    kernel = np.asarray(exact_dense.kernel, "float64")
    bias = np.asarray(exact_dense.bias, "float64")
    reference = exact_gelu(x.astype("float64") @ kernel + bias)
    exact_out = np.asarray(exact_dense(x))
    approx_out = np.asarray(approx_dense(x))
    np.testing.assert_allclose(exact_out, reference, atol=2e-6)
    # The tanh approximation is measurably off on the same weights.
    assert np.abs(approx_out - reference).max() > 1e-4


def test_from_backbone_copies_every_weight(exact_backbone, approx_backbone):
    source = {v.path: np.asarray(v) for v in approx_backbone.weights}
    target = {v.path: np.asarray(v) for v in exact_backbone.weights}
    assert source.keys() == target.keys()
    for path in source:
        np.testing.assert_array_equal(source[path], target[path])
    assert exact_backbone.get_config() == approx_backbone.get_config()


def test_outputs_differ_only_through_the_activation(exact_backbone, approx_backbone):
    x = inputs()
    exact = outputs(exact_backbone, x)
    approx = outputs(approx_backbone, x)
    difference = np.abs(exact["sequence_output"] - approx["sequence_output"])
    assert 1e-5 < difference.max() < 0.5
    # Switching the approximate model to exact GELU removes the difference.
    switched = ExactGeluBertBackbone.from_backbone(approx_backbone)
    np.testing.assert_array_equal(outputs(switched, x)["sequence_output"], exact["sequence_output"])


def test_keras_save_and_load_round_trip(exact_backbone, tmp_path):
    x = inputs()
    path = tmp_path / "exact.keras"
    exact_backbone.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is ExactGeluBertBackbone
    for block in loaded.transformer_layers:
        assert block._feedforward_intermediate_dense.activation is (keras.activations.gelu)
    before, after = outputs(exact_backbone, x), outputs(loaded, x)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


def test_registered_for_serialization():
    name = keras.saving.get_registered_name(ExactGeluBertBackbone)
    assert name == "keras_adapters>ExactGeluBertBackbone"
    assert keras.saving.get_registered_object(name) is ExactGeluBertBackbone


def test_from_config_and_constructor_build_exact_gelu():
    model = ExactGeluBertBackbone(**TINY)
    clone = ExactGeluBertBackbone.from_config(model.get_config())
    for block in clone.transformer_layers:
        assert block._feedforward_intermediate_dense.activation is (keras.activations.gelu)


def test_from_preset_on_keras_and_exact_presets(approx_backbone, tmp_path):
    plain_dir = str(tmp_path / "plain_preset")
    approx_backbone.save_to_preset(plain_dir)
    loaded = ExactGeluBertBackbone.from_preset(plain_dir)
    assert type(loaded) is ExactGeluBertBackbone
    np.testing.assert_array_equal(
        np.asarray(loaded.token_embedding.embeddings),
        np.asarray(approx_backbone.token_embedding.embeddings),
    )
    # A preset saved from the subclass loads as the subclass, even through
    # the KerasHub base class.
    exact_dir = str(tmp_path / "exact_preset")
    loaded.save_to_preset(exact_dir)
    again = keras_hub.models.BertBackbone.from_preset(exact_dir)
    assert type(again) is ExactGeluBertBackbone
    x = inputs()
    np.testing.assert_array_equal(
        outputs(again, x)["pooled_output"], outputs(loaded, x)["pooled_output"]
    )


def test_from_backbone_rejects_other_models():
    with pytest.raises(ValueError, match="Received: backbone="):
        ExactGeluBertBackbone.from_backbone(keras.Sequential())


# KerasHub tasks warn that their custom `compile()` is not restored.
@pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")
def test_text_classifier_with_exact_backbone_round_trips(exact_backbone, tmp_path):
    classifier = keras_hub.models.BertTextClassifier(
        backbone=exact_backbone, num_classes=3, preprocessor=None
    )
    x = inputs()
    before = np.asarray(classifier(x))
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert type(loaded.backbone) is ExactGeluBertBackbone
    np.testing.assert_array_equal(np.asarray(loaded(x)), before)
