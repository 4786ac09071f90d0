"""DoRA wrappers against NumPy: the decomposed kernel, gradients, merge and unmerge."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.core.tracking import unlocked
from keras_adapters.layers import DoraDense, DoraEinsumDense, DoraWeights
from tests.support.einsum_cases import CASES

RNG = np.random.default_rng(0)  # test-local draws (cotangents, dropout masks)


def _wrap(case, activation=None):
    layer = dataclasses.replace(case, activation=activation).layer()
    wrapper_class = DoraDense if case.units else DoraEinsumDense
    return layer, wrapper_class(layer)


def _attach(wrapper, name, rank=2, randomize=True, **kwargs):
    a_shape, b_shape = wrapper.dora_shapes(rank)
    module = DoraWeights(rank, a_shape, b_shape, **kwargs)
    wrapper.add_adapter(name, module)  # builds it and sets m = ||W||
    rng = np.random.default_rng(sum(map(ord, name)))
    module.lora_a.assign(rng.uniform(-1, 1, size=a_shape).astype("float32"))
    if randomize:
        module.lora_b.assign(rng.normal(size=b_shape).astype("float32"))
        m = module.magnitude.numpy() * rng.uniform(0.5, 1.5, size=module.magnitude_shape)
        module.magnitude.assign(m.astype("float32"))
    wrapper.active_adapters = wrapper.adapter_names
    return module


def _decomposed(case, kernel, module):
    """`m * V / ||V||`, `V = W + s A B`, the norm over the case's input axes."""
    _, kernel_axes, _ = case.operands
    a, b = module.lora_a.numpy(), module.lora_b.numpy()
    v = kernel + module.scale * np.einsum(f"{case.in_axes}r,r{case.out_axes}->{kernel_axes}", a, b)
    norm = np.sqrt((v**2).sum(axis=tuple(kernel_axes.index(c) for c in case.in_axes)))
    assert norm.shape == module.magnitude_shape
    return case.scale(v, kernel_axes, module.magnitude.numpy() / norm, case.out_axes)


def _column_norms(case, kernel):
    _, kernel_axes, _ = case.operands
    return np.sqrt((kernel**2).sum(axis=tuple(kernel_axes.index(c) for c in case.in_axes)))


@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy_reference(name):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", alpha=3)
    x = case.x()
    bias = None if layer.bias is None else layer.bias.numpy()
    expected = case.forward(x, _decomposed(case, layer.kernel.numpy(), module), bias)
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-5)


def test_dense_with_activation_and_rslora():
    case = CASES["dense"]
    layer, wrapper = _wrap(case, activation="tanh")
    module = _attach(wrapper, "a", rank=4, alpha=4, use_rslora=True)  # scale 4 / sqrt(4)
    assert module.scale == 2.0
    x = case.x()
    kernel = _decomposed(case, layer.kernel.numpy(), module)
    np.testing.assert_allclose(wrapper(x), np.tanh(x @ kernel + layer.bias.numpy()), atol=1e-5)


@pytest.mark.parametrize("name", ["dense", "mha_output", "gemma_query"])
def test_identity_at_initialisation(name):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", randomize=False)
    np.testing.assert_allclose(
        module.magnitude, _column_norms(case, layer.kernel.numpy()), rtol=1e-6
    )
    x = case.x()
    np.testing.assert_allclose(wrapper(x), layer(x), atol=1e-5)


def test_norm_is_a_constant_in_the_backward_pass():
    case = CASES["dense"]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", alpha=4)  # scale 2
    x = case.x().reshape(-1, 6)
    g = RNG.normal(size=(x.shape[0], 7)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapper(x) * g)
    grads = tape.gradient(loss, [module.magnitude, module.lora_a, module.lora_b])
    w, a, b, s = layer.kernel.numpy(), module.lora_a.numpy(), module.lora_b.numpy(), module.scale
    v = w + s * a @ b
    norm = np.linalg.norm(v, axis=0)
    r = module.magnitude.numpy() / norm
    np.testing.assert_allclose(grads[0], (g * (x @ v)).sum(0) / norm, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[1], s * x.T @ ((g * r) @ b.T), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads[2], s * (x @ a).T @ (g * r), rtol=1e-4, atol=1e-4)


def test_dropout_follows_peft():
    """In training, `x W + b + (r - 1) (x' W) + r s (x' A) B`, `x'` the dropped input."""
    case = CASES["dense"]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", dropout=0.5)
    mask = (RNG.uniform(size=(6,)) > 0.5).astype("float32") * 2.0

    class FixedDropout(keras.layers.Layer):
        def call(self, inputs, training=None):
            return inputs * mask if training else inputs

    with unlocked(module):
        module.dropout_layer = FixedDropout()
    x = case.x()
    w, b, s = layer.kernel.numpy(), layer.bias.numpy(), module.scale
    a, bb = module.lora_a.numpy(), module.lora_b.numpy()
    r = module.magnitude.numpy() / np.linalg.norm(w + s * a @ bb, axis=0)
    dropped = x * mask
    expected = x @ w + b + (r - 1) * (dropped @ w) + r * s * (dropped @ a @ bb)
    np.testing.assert_allclose(wrapper(x, training=True), expected, atol=1e-5)
    np.testing.assert_allclose(
        wrapper(x, training=False), x @ _decomposed(case, w, module) + b, atol=1e-5
    )


@pytest.mark.parametrize("name", list(CASES))
def test_merge_equals_unmerged_and_unmerge_restores(name):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", alpha=6)
    x = case.x()
    kernel = layer.kernel.numpy()
    unmerged = np.array(wrapper(x))
    assert wrapper.merge() == ("a",)
    np.testing.assert_allclose(layer.kernel.numpy(), _decomposed(case, kernel, module), atol=1e-6)
    np.testing.assert_allclose(wrapper(x), unmerged, atol=1e-5)
    wrapper.unmerge()
    # W = W' n / m - s A B in float32: rounding of the order of |W + s A B| * 1e-7.
    np.testing.assert_allclose(layer.kernel.numpy(), kernel, atol=2e-6)
    np.testing.assert_allclose(wrapper(x), unmerged, atol=1e-5)


def test_two_active_adapters_compose_like_merging_one_after_the_other():
    case = CASES["mha_qkv"]
    layer, wrapper = _wrap(case)
    first = _attach(wrapper, "a")
    second = _attach(wrapper, "b", rank=3)
    x = case.x()
    kernel = _decomposed(case, _decomposed(case, layer.kernel.numpy(), first), second)
    expected = case.forward(x, kernel, layer.bias.numpy())
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-5)
    wrapper.merge(["a"])
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-5)
    wrapper.merge(["b"])
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-5)
    np.testing.assert_allclose(layer.kernel.numpy(), kernel, atol=1e-5)


def test_zero_magnitude_is_not_merged():
    layer, wrapper = _wrap(CASES["dense"])
    module = _attach(wrapper, "a")
    module.magnitude.assign(np.where(np.arange(7) == 3, 0.0, 1.0).astype("float32"))
    kernel = layer.kernel.numpy()
    with pytest.raises(ValueError, match="zero magnitude entry"):
        wrapper.merge()
    assert wrapper.merged_adapters == ()
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)


def test_merge_norm_sits_beside_the_adapter_and_goes_with_it():
    case = CASES["dense"]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a")
    norm = wrapper.merge_norm_a
    assert not norm.trainable and norm.dtype == "float32"
    assert norm.path == module.magnitude.path.replace("magnitude", "merge_norm")
    assert id(norm) not in {id(v) for v in module.weights}
    assert [id(v) for v in wrapper.merge_variables()] == [id(layer.kernel), id(norm)]
    v = layer.kernel.numpy() + module.scale * module.lora_a.numpy() @ module.lora_b.numpy()
    wrapper.merge()
    np.testing.assert_allclose(norm, np.linalg.norm(v, axis=0), rtol=1e-6)
    wrapper.unmerge()
    wrapper.remove_adapter("a")
    assert [id(v) for v in wrapper.weights] == [id(v) for v in layer.weights]
    assert not hasattr(wrapper, "merge_norm_a")


def test_bad_modules_and_layers_are_refused():
    _, wrapper = _wrap(CASES["mha_qkv"])
    with pytest.raises(ValueError, match="holds `keras_adapters.layers.DoraWeights` modules"):
        wrapper.add_adapter("a", keras.layers.Dense(2))
    with pytest.raises(ValueError, match=r"Received: a_shape=\(5, 2\), b_shape=\(2, 3, 4\)"):
        wrapper.add_adapter("a", DoraWeights(2, (5, 2), (2, 3, 4)))
    with pytest.raises(ValueError, match="DoraDense wraps a `Dense`"):
        DoraDense(keras.layers.Embedding(5, 2))
    base = keras.layers.EinsumDense("abc,cd->abcd", output_shape=(None, 6, 4))
    base.build((None, None, 6))
    with pytest.raises(ValueError, match="DoRA needs every kernel axis"):
        DoraEinsumDense(base)


def test_magnitude_stays_float32_under_mixed_precision():
    base = keras.layers.Dense(6, dtype="mixed_bfloat16")
    base.build((None, 5))
    wrapper = DoraDense(base)
    a_shape, b_shape = wrapper.dora_shapes(2)
    module = DoraWeights(2, a_shape, b_shape, dtype="mixed_bfloat16")
    wrapper.add_adapter("a", module)
    assert {v.dtype for v in module.weights} == {"float32"}
    x = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    out = wrapper(x)
    assert out.dtype == "bfloat16"
    np.testing.assert_allclose(np.array(out, "float32"), np.array(base(x), "float32"), rtol=2e-2)


def test_serialization_round_trip_keeps_merged_state(tmp_path):
    case = CASES["mha_qkv"]
    _, wrapper = _wrap(case)
    _attach(wrapper, "a")
    inputs = keras.Input(case.x_shape[1:])
    model = keras.Model(inputs, wrapper(inputs))
    x = case.x()
    expected, kernel = np.array(model(x)), wrapper.kernel.numpy()
    wrapper.merge()
    model.save(str(tmp_path / "dora.keras"))
    restored = keras.models.load_model(str(tmp_path / "dora.keras"))
    layer = restored.layers[-1]
    assert layer.merged_adapters == ("a",)
    np.testing.assert_allclose(restored(x), expected, atol=1e-5)
    layer.unmerge()  # needs the merge norm, restored from the file
    np.testing.assert_allclose(layer.kernel, kernel, atol=1e-6)
    np.testing.assert_allclose(restored(x), expected, atol=1e-5)
