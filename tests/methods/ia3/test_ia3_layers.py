"""IA3 wrappers against NumPy: output / input scaling, merge, unmerge, refusals."""

import dataclasses

import keras
import numpy as np
import pytest

from keras_adapters.layers import IA3Dense, IA3EinsumDense, IA3Vector
from tests.support.einsum_cases import CASES

# Output scaling needs a bias over every scaled axis; these cases have one or none.
MODES = [(name, feedforward) for name in CASES for feedforward in (False, True)]


def _wrap(case, activation=None):
    layer = dataclasses.replace(case, activation=activation).layer()
    wrapper_class = IA3Dense if case.units else IA3EinsumDense
    return layer, wrapper_class(layer)


def _attach(wrapper, name, feedforward, randomize=True):
    module = IA3Vector(wrapper.scale_shape(feedforward), feedforward=feedforward)
    wrapper.add_adapter(name, module)
    if randomize:
        rng = np.random.default_rng(sum(map(ord, name)))
        module.ia3_l.assign(rng.uniform(0.5, 1.5, size=module.scale_shape).astype("float32"))
    wrapper.active_adapters = wrapper.adapter_names
    return module


def _reference(case, layer, x, module):
    """`base(x) * l` or `base(x * l)`, written with NumPy's einsum from the case's axes."""
    inputs, _, outputs = case.operands
    kernel, bias = layer.kernel.numpy(), layer.bias
    bias = None if bias is None else bias.numpy()
    activation = (lambda t: np.array(layer.activation(t))) if case.activation else None
    l = module.ia3_l.numpy()  # noqa: E741 - the paper's name
    if module.feedforward:
        return case.forward(case.scale(x, inputs, l, case.in_axes), kernel, bias, activation)
    return case.scale(case.forward(x, kernel, bias, activation), outputs, l, case.out_axes)


@pytest.mark.parametrize("name, feedforward", MODES)
def test_matches_numpy_reference(name, feedforward):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", feedforward)
    sizes = case.sizes(layer)
    axes = case.in_axes if feedforward else case.out_axes
    assert module.scale_shape == tuple(sizes[a] for a in axes)
    x = case.x()
    np.testing.assert_allclose(wrapper(x), _reference(case, layer, x, module), atol=1e-5)


def test_feedforward_scales_the_input_of_a_layer_with_an_activation():
    case = CASES["dense"]
    layer, wrapper = _wrap(case, activation="gelu")
    module = _attach(wrapper, "a", feedforward=True)
    x = case.x()
    expected = np.array(layer(x * module.ia3_l.numpy()))
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-6)


@pytest.mark.parametrize("name, feedforward", [("mha_qkv", False), ("dense", True)])
def test_identity_at_initialisation(name, feedforward):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    _attach(wrapper, "a", feedforward, randomize=False)
    x = case.x()
    np.testing.assert_array_equal(wrapper(x), layer(x))


def test_adapters_multiply_and_switch():
    case = CASES["mha_output"]
    layer, wrapper = _wrap(case)
    a = _attach(wrapper, "a", feedforward=False)
    b = _attach(wrapper, "b", feedforward=True)
    x = case.x()
    inputs, _, outputs = case.operands
    scaled_x = case.scale(x, inputs, b.ia3_l.numpy(), case.in_axes)
    expected = case.scale(np.array(layer(scaled_x)), outputs, a.ia3_l.numpy(), case.out_axes)
    np.testing.assert_allclose(wrapper(x), expected, atol=1e-5)
    wrapper.active_adapters = ["a"]
    np.testing.assert_allclose(wrapper(x), _reference(case, layer, x, a), atol=1e-5)
    wrapper.active_adapters = []
    np.testing.assert_array_equal(wrapper(x), layer(x))


@pytest.mark.parametrize("name, feedforward", MODES)
def test_merge_equals_unmerged_and_unmerge_restores(name, feedforward):
    case = CASES[name]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", feedforward)
    x = case.x()
    kernel, bias = layer.kernel.numpy(), None if layer.bias is None else layer.bias.numpy()
    unmerged = np.array(wrapper(x))
    assert wrapper.merge() == ("a",)
    np.testing.assert_allclose(wrapper(x), unmerged, atol=1e-5)
    _, kernel_axes, _ = case.operands
    axes = case.in_axes if feedforward else case.out_axes
    l = module.ia3_l.numpy()  # noqa: E741
    np.testing.assert_allclose(layer.kernel.numpy(), case.scale(kernel, kernel_axes, l, axes))
    if bias is not None:  # scaled with the output, untouched under input scaling
        expected_bias = bias if feedforward else bias * l.reshape(bias.shape)
        np.testing.assert_allclose(layer.bias.numpy(), expected_bias, rtol=1e-6)
    wrapper.unmerge()
    np.testing.assert_allclose(layer.kernel.numpy(), kernel, rtol=1e-6, atol=1e-7)
    if bias is not None:
        np.testing.assert_allclose(layer.bias.numpy(), bias, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(wrapper(x), unmerged, atol=1e-5)


def test_output_scaling_of_a_nonlinear_layer_is_refused():
    _, wrapper = _wrap(CASES["dense"], activation="gelu")
    with pytest.raises(ValueError, match="applies the activation 'gelu' inside"):
        wrapper.add_adapter("a", IA3Vector((7,)))
    assert wrapper.adapter_names == ()


def test_output_scaling_needs_a_bias_over_every_scaled_axis():
    base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 3, 4), bias_axes="e")
    base.build((None, None, 6))
    wrapper = IA3EinsumDense(base)
    with pytest.raises(ValueError, match="bias .* runs over the output axes 'e', not over .*'de'"):
        wrapper.add_adapter("a", IA3Vector((3, 4)))
    wrapper.add_adapter("a", IA3Vector((6,), feedforward=True))  # input scaling is fine


def test_zero_scale_is_not_merged():
    case = CASES["dense"]
    layer, wrapper = _wrap(case)
    module = _attach(wrapper, "a", feedforward=False)
    module.ia3_l.assign(np.array([1, 0, 1, 1, 1, 1, 1], "float32"))
    kernel = layer.kernel.numpy()
    with pytest.raises(ValueError, match="scales some features .* by 0"):
        wrapper.merge()
    assert wrapper.merged_adapters == ()
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)


def test_bad_modules_and_layers_are_refused():
    _, wrapper = _wrap(CASES["mha_qkv"])
    with pytest.raises(
        ValueError, match=r"`scale_shape` must be \(3, 4\) .* Received: scale_shape=\(4, 3\)"
    ):
        wrapper.add_adapter("a", IA3Vector((4, 3)))
    with pytest.raises(ValueError, match="holds `keras_adapters.layers.IA3Vector` modules"):
        wrapper.add_adapter("a", keras.layers.Dense(2))
    with pytest.raises(ValueError, match="IA3Dense wraps a `Dense`"):
        IA3Dense(keras.layers.LayerNormalization())
    with pytest.raises(ValueError, match="Received: scale_shape=\\(\\)"):
        IA3Vector(())
    with pytest.raises(ValueError, match="Received: feedforward=1"):
        IA3Vector((3,), feedforward=1)


def test_equation_that_does_not_split_is_refused():
    base = keras.layers.EinsumDense("abc,cd->abcd", output_shape=(None, 6, 4))
    base.build((None, None, 6))
    with pytest.raises(ValueError, match="IA3 needs every kernel axis"):
        IA3EinsumDense.check_scalable(base, feedforward=False)


def test_vector_stays_float32_under_mixed_precision():
    base = keras.layers.Dense(6, dtype="mixed_bfloat16")
    base.build((None, 5))
    wrapper = IA3Dense(base)
    module = IA3Vector((6,), dtype="mixed_bfloat16")
    wrapper.add_adapter("a", module)
    assert module.ia3_l.dtype == "float32"
    assert wrapper(np.ones((2, 5), "float32")).dtype == "bfloat16"


def test_serialization_round_trip_keeps_merged_state(tmp_path):
    case = CASES["mha_qkv"]
    _, wrapper = _wrap(case)
    _attach(wrapper, "a", feedforward=False)
    _attach(wrapper, "b", feedforward=True)
    inputs = keras.Input(case.x_shape[1:])
    model = keras.Model(inputs, wrapper(inputs))
    x = case.x()
    expected = np.array(model(x))
    wrapper.merge(["a"])
    model.save(str(tmp_path / "ia3.keras"))
    restored = keras.models.load_model(str(tmp_path / "ia3.keras"))
    layer = restored.layers[-1]
    assert layer.adapter_names == ("a", "b") and layer.merged_adapters == ("a",)
    np.testing.assert_allclose(restored(x), expected, atol=1e-5)
    layer.unmerge()
    np.testing.assert_allclose(restored(x), expected, atol=1e-5)
