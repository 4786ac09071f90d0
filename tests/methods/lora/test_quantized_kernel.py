"""LoRA, DoRA and IA3 wrappers on a base that Keras quantised to int8 / int4.

The int8 reference is written from Keras' documented scheme (abs-max per
output channel for the kernel, per token for the inputs, values in
[-127, 127]) in NumPy, independently of the library code.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_adapters.layers import (
    DoraDense,
    DoraWeights,
    IA3Dense,
    IA3Vector,
    LoraDense,
    LoraEinsumDense,
    LoraEmbedding,
    LoraWeights,
)
from keras_adapters.methods.lora.quantized_kernel import (
    assign_float_kernel,
    float_kernel,
    kernel_variables,
)

RNG = np.random.default_rng(0)
EPSILON = 1e-7  # keras.config.epsilon()


def absmax(x, axis):
    """`(integer values, scale)`: `x ~ values / scale`, abs-max over `axis`, in float32."""
    x = np.asarray(x, "float32")
    scale = np.float32(127) / (np.max(np.abs(x), axis=axis, keepdims=True) + np.float32(EPSILON))
    return np.clip(np.round(x * scale), -127, 127), scale


def gelu(x):
    from math import erf

    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def _dense(units=6, inputs=5, activation=None, mode=None, config=None):
    base = keras.layers.Dense(units, activation=activation)
    base.build((None, inputs))
    base.kernel.assign(RNG.normal(size=(inputs, units)).astype("float32"))
    base.bias.assign(RNG.normal(size=(units,)).astype("float32"))
    kernel = base.kernel.numpy()
    if mode:
        base.quantize(mode, config=config)
    return base, kernel


def _lora(wrapper, rank=2, alpha=4):
    a_shape, b_shape = wrapper.lora_shapes(rank)
    module = LoraWeights(rank, a_shape, b_shape, alpha=alpha)
    module.build()
    module.lora_b.assign(RNG.normal(size=b_shape).astype("float32"))
    wrapper.add_adapter("a", module)
    wrapper.active_adapters = ("a",)
    return module


# === Reading and writing the kernel ===

LAYOUTS = {
    # name: (layer factory, input shape, axes abs-max reduces for the kernel)
    "dense": (lambda: keras.layers.Dense(6), (None, 5), 0),
    "einsum": (
        lambda: keras.layers.EinsumDense(
            "abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de"
        ),
        (None, None, 5),
        0,
    ),
    "einsum_heads_first": (
        lambda: keras.layers.EinsumDense("btd,ndh->btnh", output_shape=(None, 2, 3)),
        (None, None, 5),
        1,
    ),
    "embedding": (lambda: keras.layers.Embedding(7, 4), (None, 3), -1),
}


def _quantized(layout):
    make, shape, axis = LAYOUTS[layout]
    layer = make()
    layer.build(shape)
    variable = layer.embeddings if layout == "embedding" else layer.kernel
    variable.assign(RNG.normal(size=variable.shape).astype("float32"))
    kernel = variable.numpy()
    layer.quantize("int8")
    return layer, kernel, axis


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_float_kernel_dequantises_keras_int8(layout):
    layer, kernel, axis = _quantized(layout)
    values, scale = absmax(kernel, axis)
    np.testing.assert_allclose(float_kernel(layer), values / scale, rtol=1e-6, atol=1e-7)
    assert [v.dtype for v in kernel_variables(layer)] == ["int8", "float32"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_assign_float_kernel_requantises_as_keras_quantize_does(layout):
    layer, _, axis = _quantized(layout)
    fresh, new_kernel, _ = _quantized(layout)  # Keras' own quantisation of another kernel
    error = assign_float_kernel(layer, new_kernel)
    for ours, keras_own in zip(kernel_variables(layer), kernel_variables(fresh)):
        np.testing.assert_allclose(ours.numpy(), keras_own.numpy(), rtol=1e-6)
    values, scale = absmax(new_kernel, axis)
    expected = np.linalg.norm(values / scale - new_kernel) / np.linalg.norm(new_kernel)
    assert error == pytest.approx(expected, rel=1e-4)
    assert 0 < error < 0.01


def test_assign_float_kernel_on_a_float_layer_is_exact():
    base, _ = _dense()
    new_kernel = RNG.normal(size=(5, 6)).astype("float32")
    assert assign_float_kernel(base, new_kernel) is None
    np.testing.assert_array_equal(base.kernel.numpy(), new_kernel)


# === LoRA on an int8 base: NumPy references ===


def test_lora_dense_on_int8_matches_numpy():
    base, kernel = _dense(activation="gelu", mode="int8")
    layer = LoraDense(base)
    module = _lora(layer)
    x = RNG.normal(size=(3, 4, 5)).astype("float32")
    xq, x_scale = absmax(x, -1)
    wq, w_scale = absmax(kernel, 0)
    product = (xq @ wq) / (x_scale * w_scale)
    update = 2.0 * x @ module.lora_a.numpy() @ module.lora_b.numpy()
    expected = gelu(product + base.bias.numpy() + update)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, kernel_axis",
    [("abc,cde->abde", (None, 2, 3), "de", 0), ("btd,ndh->btnh", (None, 2, 3), "nh", 1)],
)
def test_lora_einsum_dense_on_int8_matches_numpy(equation, output_shape, bias_axes, kernel_axis):
    base = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    base.build((None, None, 5))
    kernel = RNG.normal(size=base.kernel.shape).astype("float32")
    base.kernel.assign(kernel)
    base.quantize("int8")
    layer = LoraEinsumDense(base)
    module = _lora(layer)
    x = RNG.normal(size=(2, 4, 5)).astype("float32")
    xq, x_scale = absmax(x, -1)
    wq, w_scale = absmax(kernel, kernel_axis)
    w_scale = w_scale.reshape(base.bias.shape)  # one per output head and unit
    product = np.einsum(equation, xq, wq) / (x_scale[..., None] * w_scale)
    delta = np.einsum(
        layer.factorization.merge_equation, module.lora_a.numpy(), module.lora_b.numpy()
    )
    expected = product + base.bias.numpy() + 2.0 * np.einsum(equation, x, delta)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_lora_embedding_on_int8_matches_numpy():
    layer, table, _ = _quantized("embedding")
    wrapper = LoraEmbedding(layer)
    module = _lora(wrapper)
    ids = np.array([[0, 3, 6], [2, 2, 1]])
    values, scale = absmax(table, -1)
    lora = module.lora_a.numpy()[ids] @ module.lora_b.numpy()
    np.testing.assert_allclose(wrapper(ids), (values / scale)[ids] + 2.0 * lora, rtol=1e-5)


def test_gradients_reach_the_adapter_and_the_inputs_never_the_integer_kernel():
    base, kernel = _dense(mode="int8")
    layer = LoraDense(base)
    module = _lora(layer)
    x = tf.constant(RNG.normal(size=(3, 5)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x))
    a, b = module.lora_a.numpy(), module.lora_b.numpy()
    ones = np.ones((3, 6), "float32")
    values, scale = absmax(kernel, 0)
    # Keras' custom gradient: upstream times the dequantised kernel, transposed.
    expected_dx = ones @ (values / scale).T + 2.0 * ones @ (a @ b).T
    np.testing.assert_allclose(tape.gradient(loss, x), expected_dx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(loss, module.lora_b.value), 2.0 * (x.numpy() @ a).T @ ones, rtol=1e-5
    )
    assert tape.gradient(loss, base._kernel.value) is None


# === int4 and other modes ===


def test_lora_on_int4_adds_its_branch_to_keras_int4_product():
    base, _ = _dense(inputs=16, mode="int4")
    layer = LoraDense(base)
    module = _lora(layer)
    x = RNG.normal(size=(3, 16)).astype("float32")
    update = 2.0 * x @ module.lora_a.numpy() @ module.lora_b.numpy()
    np.testing.assert_allclose(layer(x), np.asarray(base(x)) + update, rtol=1e-5, atol=1e-5)


def test_int4_merge_is_refused_and_changes_nothing():
    base, _ = _dense(inputs=16, mode="int4")
    layer = LoraDense(base)
    _lora(layer)
    before = [v.numpy() for v in base.weights]
    with pytest.raises(ValueError, match="quantised with mode='int4'.*stays unmerged"):
        layer.merge()
    assert layer.merged_adapters == ()
    for variable, value in zip(base.weights, before):
        np.testing.assert_array_equal(variable.numpy(), value)


def test_unsupported_modes_are_refused_by_every_kernel_wrapper():
    base, _ = _dense(mode="float8")
    for wrapper in (LoraDense, IA3Dense, DoraDense):
        with pytest.raises(ValueError, match="Layer 'dense.*' is quantised with mode='float8'"):
            wrapper(base)
    int4, _ = _dense(inputs=16, mode="int4")
    with pytest.raises(ValueError, match=r"quantised to \('int8',\)"):
        DoraDense(int4)  # DoRA reads the kernel as float for its norms


# === Merging into int8 ===


def test_lora_merge_into_int8_requantises_and_reports_the_error():
    base, _ = _dense(mode="int8")
    layer = LoraDense(base)
    module = _lora(layer)
    x = RNG.normal(size=(4, 5)).astype("float32")
    unmerged = np.asarray(layer(x))
    target = np.asarray(float_kernel(base)) + 2.0 * module.lora_a.numpy() @ module.lora_b.numpy()
    layer.merge()
    values, scale = absmax(target, 0)
    expected = np.linalg.norm(values / scale - target) / np.linalg.norm(target)
    assert layer.merge_errors["a"] == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(float_kernel(base), values / scale, rtol=1e-6, atol=1e-7)
    # The merged int8 layer stays within the rounding of one int8 step.
    assert np.abs(np.asarray(layer(x)) - unmerged).max() < 0.05 * np.abs(unmerged).max()
    layer.unmerge()
    assert layer.merged_adapters == () and "a" in layer.merge_errors


def test_dora_and_ia3_on_int8_start_as_the_identity_and_merge():
    base, _ = _dense(mode="int8")
    x = RNG.normal(size=(4, 5)).astype("float32")
    plain = np.asarray(base(x))
    dora = DoraDense(base)
    a_shape, b_shape = dora.dora_shapes(2)
    dora.add_adapter("a", DoraWeights(2, a_shape, b_shape))
    dora.active_adapters = ("a",)
    np.testing.assert_allclose(dora(x), plain, rtol=1e-5, atol=1e-5)
    dora.get_adapter("a").lora_b.assign(RNG.normal(size=b_shape).astype("float32"))
    unmerged = np.asarray(dora(x))
    dora.merge()
    assert 0 < dora.merge_errors["a"] < 0.01
    assert np.abs(np.asarray(dora(x)) - unmerged).max() < 0.05 * np.abs(unmerged).max()
    dora.unmerge()

    ia3 = IA3Dense(base)
    ia3.add_adapter("s", IA3Vector((6,)))
    ia3.active_adapters = ("s",)
    np.testing.assert_allclose(ia3(x), base(x), rtol=1e-6)
    ia3.get_adapter("s").ia3_l.assign(np.linspace(0.5, 1.5, 6).astype("float32"))
    unmerged = np.asarray(ia3(x))
    ia3.merge()
    assert 0 <= ia3.merge_errors["s"] < 0.01
    assert np.abs(np.asarray(ia3(x)) - unmerged).max() < 0.05 * np.abs(unmerged).max()
