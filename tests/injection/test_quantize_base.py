"""`quantize_base`: every method on an int8 / int4 frozen base, files, merges, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
from keras_adapters.export.adapter_views import merged_adapters
from tests.support.tiny_models import (
    make_classifier,
    make_inputs,
    randomize_adapters,
    randomize_weights,
    weights_by_path,
)

HEAD = ["logits"]
CONFIGS = {
    "lora": keras_adapters.LoraConfig(
        rank=2, targets=["query", "value", "ffn_intermediate"], modules_to_save=HEAD
    ),
    "adalora": keras_adapters.AdaLoraConfig(init_rank=3, target_rank=2, total_steps=4),
    "dora": keras_adapters.DoraConfig(rank=2, modules_to_save=HEAD),
    "ia3": keras_adapters.IA3Config(modules_to_save=HEAD),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2),
    "pfeiffer": keras_adapters.PfeifferConfig(bottleneck_dim=2),
    "parallel": keras_adapters.ParallelConfig(bottleneck_dim=2),
    "prefix": keras_adapters.PrefixConfig(num_prefix_tokens=2),
}


def _classifier(method):
    classifier = make_classifier()
    randomize_weights(classifier)
    keras_adapters.add_adapter(classifier, CONFIGS[method], "a", verbose=False)
    return classifier


# DoRA reads the kernel as float for its norms: int8 only (refusal tested below).
# Pfeiffer and parallel adapters call the base as Houlsby does.
INT4_CHECKED = ("lora", "adalora", "ia3", "houlsby", "prefix")


def _cells():
    """Every method on int8, and on int4 those of `INT4_CHECKED` (all slow: the fast
    NumPy references of LoRA, DoRA and IA3 on int8 are in tests/methods/lora)."""
    cells = [pytest.param(m, "int8", marks=pytest.mark.slow) for m in CONFIGS]
    cells += [pytest.param(m, "int4", marks=pytest.mark.slow) for m in INT4_CHECKED]
    return cells


@pytest.mark.parametrize("method, mode", _cells())
def test_every_method_trains_on_a_quantised_base(method, mode):
    classifier = _classifier(method)
    x = make_inputs()
    paths = keras_adapters.quantize_base(classifier, mode)
    assert any(p.endswith("self_attention_layer/query") for p in paths)
    assert ("logits" in paths) != bool(CONFIGS[method].modules_to_save)
    assert not any(f"/{method}/" in p for p in paths)
    integer = {v.path for v in classifier.weights if v.dtype == "int8"}
    assert integer and not integer & {v.path for v in classifier.trainable_weights}
    assert {v.dtype for v in classifier.trainable_weights} == {"float32"}
    # Identity at init, on the quantised base.
    adapted = np.asarray(classifier(x))
    keras_adapters.disable_adapters(classifier)
    base = np.asarray(classifier(x))
    keras_adapters.enable_adapters(classifier)
    if method != "prefix":  # prefixes are attended to from the start
        np.testing.assert_allclose(adapted, base, atol=1e-5)
    # Gradients: every trainable weight gets one, adapter weights included.
    randomize_adapters(classifier)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(classifier(x)))
    grads = tape.gradient(loss, classifier.trainable_weights)
    adapter_grads = [
        g for v, g in zip(classifier.trainable_weights, grads) if not v.path.startswith("logits")
    ]
    assert adapter_grads and all(g is not None for g in adapter_grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in adapter_grads) > 0


@pytest.mark.slow
@pytest.mark.slow
def test_xla_fit_moves_only_adapter_weights():
    classifier = _classifier("lora")
    keras_adapters.quantize_base(classifier, "int8")
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    before = weights_by_path(classifier)
    x = make_inputs(batch=8)
    classifier.fit(x, np.arange(8) % 2, batch_size=4, epochs=2, verbose=0)
    moved = {p for p, w in weights_by_path(classifier).items() if not np.array_equal(w, before[p])}
    assert moved and moved <= {v.path for v in classifier.trainable_weights}
    assert any("/lora/" in p for p in moved)


@pytest.mark.slow
def test_int8_base_matches_a_numpy_int8_reference_of_one_projection():
    classifier = _classifier("lora")
    query = classifier.backbone.transformer_layers[0]._self_attention_layer._query_dense
    kernel = query.base_layer.kernel.numpy()
    keras_adapters.quantize_base(classifier, "int8")
    randomize_adapters(classifier)
    module = query.get_adapter("a")
    x = np.random.default_rng(3).normal(size=(2, 5, kernel.shape[0])).astype("float32")
    x_scale = 127 / (np.abs(x).max(-1, keepdims=True) + 1e-7)
    w_scale = 127 / (np.abs(kernel).max(0, keepdims=True) + 1e-7)
    xq = np.clip(np.round(x * x_scale), -127, 127)
    wq = np.clip(np.round(kernel * w_scale), -127, 127)
    base = np.einsum("abc,cde->abde", xq, wq) / (x_scale[..., None] * w_scale)
    lora = np.einsum("abc,cr,rde->abde", x, module.lora_a.numpy(), module.lora_b.numpy())
    expected = base + query.base_layer.bias.numpy() + module.scale * lora
    np.testing.assert_allclose(query(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "dora", "ia3"])
@pytest.mark.slow
def test_merge_into_int8_reports_the_requantisation_error(method):
    classifier = _classifier(method)
    keras_adapters.quantize_base(classifier, "int8")
    randomize_adapters(classifier, scale=0.1)
    x = make_inputs()
    unmerged = np.asarray(classifier(x))
    errors = keras_adapters.merge_adapters(classifier)
    assert errors and all(0 <= e < 0.02 for e in errors.values())
    assert any(e > 0 for e in errors.values())
    merged = np.asarray(classifier(x))
    assert np.abs(merged - unmerged).max() < 0.05 * np.abs(unmerged).max()
    assert keras_adapters.unmerge_adapters(classifier).keys() == errors.keys()


@pytest.mark.slow
def test_int4_merge_is_refused_before_any_kernel_changes():
    classifier = _classifier("lora")
    keras_adapters.quantize_base(classifier, "int4")
    randomize_adapters(classifier)
    before = weights_by_path(classifier)
    with pytest.raises(ValueError, match="mode='int4'.*stays unmerged"):
        keras_adapters.merge_adapters(classifier)
    with pytest.raises(ValueError, match="mode='int4'"):
        with merged_adapters(classifier):
            pass
    after = weights_by_path(classifier)
    assert all(np.array_equal(after[p], before[p]) for p in before)
    assert not keras_adapters.list_adapters(classifier)["a"]["merged"]


@pytest.mark.slow
def test_export_view_merges_int8_and_restores_it_bit_for_bit():
    classifier = _classifier("lora")
    keras_adapters.quantize_base(classifier, "int8")
    randomize_adapters(classifier)
    before = weights_by_path(classifier)
    with merged_adapters(classifier) as names:
        assert names == ("a",)
        changed = weights_by_path(classifier)
        assert any(not np.array_equal(changed[p], before[p]) for p in before)
    after = weights_by_path(classifier)
    assert all(np.array_equal(after[p], before[p]) for p in before)


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["quantised_to_float", "float_to_quantised"])
@pytest.mark.slow
def test_adapter_files_load_onto_a_float_or_a_quantised_base(direction, tmp_path):
    source = _classifier("lora")
    if direction == "quantised_to_float":
        keras_adapters.quantize_base(source, "int8")
    randomize_adapters(source)
    keras_adapters.save_adapter(source, tmp_path / "adapter")
    target = make_classifier()
    randomize_weights(target)
    keras_adapters.load_adapter(target, tmp_path / "adapter")
    if direction == "float_to_quantised":
        keras_adapters.quantize_base(target, "int8")
    saved = {p: w for p, w in weights_by_path(source).items() if "/lora/" in p or "logits" in p}
    loaded = weights_by_path(target)
    for path, value in saved.items():
        np.testing.assert_array_equal(loaded[path], value)
    x = make_inputs()
    # Same adapter on the same base weights; only the base's int8 rounding differs.
    difference = np.abs(np.asarray(target(x)) - np.asarray(source(x))).max()
    assert 0 < difference < 0.05 * np.abs(np.asarray(source(x))).max()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["int8", "int4"])
@pytest.mark.slow
def test_keras_file_round_trip_keeps_the_quantised_base(mode, tmp_path):
    classifier = _classifier("lora")
    keras_adapters.quantize_base(classifier, mode)
    randomize_adapters(classifier)
    classifier.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    x = make_inputs()
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(classifier(x)))
    assert weights_by_path(restored).keys() == weights_by_path(classifier).keys()
    dtypes = {v.path: v.dtype for v in classifier.weights}
    assert {v.path: v.dtype for v in restored.weights} == dtypes
    assert sorted(v.path for v in restored.trainable_weights) == sorted(
        v.path for v in classifier.trainable_weights
    )


def test_bad_calls_are_refused_before_anything_changes():
    plain = make_classifier()
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.quantize_base(plain)
    classifier = _classifier("dora")
    with pytest.raises(ValueError, match=r"`mode` must be one of .* Received: mode='float8'"):
        keras_adapters.quantize_base(classifier, "float8")
    config = keras.quantizers.Int8QuantizationConfig()
    with pytest.raises(ValueError, match="of mode 'int4'"):
        keras_adapters.quantize_base(classifier, "int4", config=config)
    with pytest.raises(
        ValueError, match=r"DoraEinsumDense at .*\('int8',\) only. Received: mode='int4'"
    ):
        keras_adapters.quantize_base(classifier, "int4")
    mixed = make_classifier(dtype="mixed_bfloat16")
    keras_adapters.add_adapter(mixed, CONFIGS["lora"], "a", verbose=False)
    with pytest.raises(ValueError, match=r"compute in float32.*Received: .*\['bfloat16'\]"):
        keras_adapters.quantize_base(mixed, "int8")
    assert not any(v.dtype == "int8" for v in mixed.weights)
    keras_adapters.merge_adapters(classifier)
    with pytest.raises(ValueError, match="unmerge_adapters"):
        keras_adapters.quantize_base(classifier, "int8")
    assert not any(v.dtype == "int8" for v in classifier.weights)
