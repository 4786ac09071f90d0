"""AdaLoRA's module in LoRA's wrappers: forward, identity, masking, merge, regulariser."""

import keras
import numpy as np
import pytest

from keras_adapters.layers import AdaLoraWeights, LoraDense, LoraEinsumDense
from tests.support.kernel_layouts import as_matrix, lora_matrices

RNG = np.random.default_rng(0)
EINSUM_CASES = [
    ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5)),  # query projection
    ("abcd,cde->abe", (None, 6), "e", (2, 4, 2, 3)),  # attention output
    ("btd,ndh->btnh", (None, 2, 3), "nh", (2, 4, 5)),  # heads-first (Gemma)
]


def _attach(wrapper, rank=3, alpha=None, mask=None, randomize=True, **kwargs):
    a_shape, b_shape = wrapper.lora_shapes(rank)
    module = AdaLoraWeights(rank, a_shape, b_shape, alpha=alpha, **kwargs)
    module.build()
    if randomize:
        for variable in (module.lora_p, module.lora_e, module.lora_q):
            variable.assign(RNG.normal(size=variable.shape).astype("float32"))
    if mask is not None:
        module.rank_mask.assign(np.array(mask, "float32"))
    wrapper.add_adapter("a", module)
    wrapper.active_adapters = ["a"]
    return module


def _delta(module, equation=None):
    """NumPy `ΔW = P diag(λ ⊙ mask) Q * scale` as a matrix `[in, out]`."""
    p, q = lora_matrices(module.lora_p.numpy(), module.lora_q.numpy(), equation)
    kept = module.lora_e.numpy() * module.rank_mask.numpy()
    return (p * kept) @ q * module.scale


def _dense(activation=None):
    base = keras.layers.Dense(6, activation=activation)
    base.build((None, 5))
    return base


def _einsum(equation, output_shape, bias_axes, x_shape):
    base = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    base.build(x_shape)
    return base


def test_dense_matches_numpy_reference_with_a_partial_mask():
    base = _dense("relu")
    layer = LoraDense(base)
    module = _attach(layer, rank=3, alpha=6, mask=[1, 0, 1])
    x = RNG.normal(size=(2, 4, 5)).astype("float32")
    p, e, q = module.lora_p.numpy(), module.lora_e.numpy(), module.lora_q.numpy()
    update = 2.0 * x @ (p * (e * [1, 0, 1])) @ q  # scale alpha / r = 6 / 3
    expected = np.maximum(x @ base.kernel.numpy() + base.bias.numpy() + update, 0)
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize("equation, output_shape, bias_axes, x_shape", EINSUM_CASES)
def test_einsum_dense_matches_numpy_reference(equation, output_shape, bias_axes, x_shape):
    base = _einsum(equation, output_shape, bias_axes, x_shape)
    layer = LoraEinsumDense(base)
    module = _attach(layer, rank=3, alpha=4, mask=[0, 1, 1])
    x = RNG.normal(size=x_shape).astype("float32")
    # y = x W with the kernel as a matrix [in features, out features] (kernel_layouts).
    kernel = as_matrix(base.kernel.numpy(), equation) + _delta(module, equation)
    inputs, rest = equation.split(",")
    kernel_axes, output_axes = rest.split("->")
    feature_axes = [a for a in inputs if a in kernel_axes and a not in output_axes]
    flat = x.reshape(x.shape[: x.ndim - len(feature_axes)] + (-1,)) @ kernel
    got = np.array(layer(x))
    np.testing.assert_allclose(got, flat.reshape(got.shape) + base.bias.numpy(), atol=1e-5)


def test_identity_at_initialisation():
    base = _einsum(*EINSUM_CASES[0])
    layer = LoraEinsumDense(base)
    module = _attach(layer, rank=4, randomize=False)
    assert np.all(module.lora_e.numpy() == 0) and np.std(module.lora_p.numpy()) > 0
    x = RNG.normal(size=(2, 4, 5)).astype("float32")
    np.testing.assert_array_equal(layer(x), base(x))


def test_masked_triplets_contribute_nothing_to_outputs_and_merged_kernels():
    base = _dense("tanh")
    layer = LoraDense(base)
    module = _attach(layer, rank=4, mask=[1, 0, 0, 1])
    x = RNG.normal(size=(3, 5)).astype("float32")
    outputs = np.array(layer(x))
    for variable in (module.lora_e, module.lora_q):  # change only the masked triplets
        values = variable.numpy()
        values[[1, 2]] = RNG.normal(size=values[[1, 2]].shape)
        variable.assign(values)
    p = module.lora_p.numpy()
    p[:, [1, 2]] = RNG.normal(size=(5, 2))
    module.lora_p.assign(p)
    np.testing.assert_allclose(layer(x), outputs, atol=1e-6)
    original = np.array(base.kernel.numpy())
    layer.merge()
    kept = [0, 3]
    expected = original + (
        module.lora_p.numpy()[:, kept] * module.lora_e.numpy()[kept]
    ) @ module.lora_q.numpy()[kept] * (4 / 4)
    np.testing.assert_allclose(base.kernel.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["dense", "einsum"])
def test_merge_equals_unmerged_and_unmerge_restores_the_kernel(kind):
    if kind == "dense":
        base, x = _dense("gelu"), RNG.normal(size=(3, 5)).astype("float32")
        layer = LoraDense(base)
    else:
        base = _einsum(*EINSUM_CASES[1])
        x, layer = RNG.normal(size=(2, 4, 2, 3)).astype("float32"), LoraEinsumDense(base)
    _attach(layer, rank=3, alpha=5, mask=[1, 1, 0])
    original = np.array(base.kernel.numpy())
    unmerged = np.array(layer(x))
    assert layer.merge() == ("a",)
    np.testing.assert_allclose(layer(x), unmerged, atol=1e-5)
    layer.unmerge()
    np.testing.assert_allclose(base.kernel.numpy(), original, atol=1e-6)
    np.testing.assert_allclose(layer(x), unmerged, atol=1e-5)


def _penalty(p, q):
    r = p.shape[-1]
    p, q = p.reshape(-1, r).astype("float64"), q.reshape(r, -1).astype("float64")
    return np.sum((p.T @ p - np.eye(r)) ** 2) + np.sum((q @ q.T - np.eye(r)) ** 2)


@pytest.mark.parametrize("equation, output_shape, bias_axes, x_shape", EINSUM_CASES)
def test_orthogonality_loss_matches_numpy(equation, output_shape, bias_axes, x_shape):
    layer = LoraEinsumDense(_einsum(equation, output_shape, bias_axes, x_shape))
    module = _attach(layer, rank=2, orthogonality=0.25)
    layer(RNG.normal(size=x_shape).astype("float32"))
    (loss,) = layer.losses
    expected = 0.25 * _penalty(module.lora_p.numpy(), module.lora_q.numpy())
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(float(module.orthogonality_penalty()), expected / 0.25, rtol=1e-5)


def test_no_loss_without_orthogonality_weight():
    layer = LoraDense(_dense())
    _attach(layer, rank=2)
    layer(np.ones((2, 5), "float32"))
    assert layer.losses == []


def test_state_weights_are_the_mask_and_the_step():
    module = _attach(LoraDense(_dense()), rank=2)
    assert [v.name for v in module.weights] == ["lora_p", "lora_e", "lora_q", "rank_mask", "step"]
    assert [v.name for v in module.state_weights] == ["rank_mask", "step"]
    assert not any(v.trainable for v in module.state_weights)
    assert module.effective_rank() == 2
    module.rank_mask.assign([0.0, 1.0])
    assert module.effective_rank() == 1


def test_weights_stay_float32_under_mixed_precision_and_the_loss_is_float32():
    base = keras.layers.Dense(6, dtype="mixed_bfloat16")
    base.build((None, 5))
    layer = LoraDense(base)
    a_shape, b_shape = layer.lora_shapes(2)
    module = AdaLoraWeights(2, a_shape, b_shape, orthogonality=1.0, dtype="mixed_bfloat16")
    layer.add_adapter("a", module)
    layer.active_adapters = ["a"]
    assert {v.dtype for v in module.weights} == {"float32"}
    assert layer(np.ones((2, 5), "float32")).dtype == "bfloat16"
    assert layer.losses[0].dtype == "float32"
    np.testing.assert_allclose(
        float(layer.losses[0]), _penalty(module.lora_p.numpy(), module.lora_q.numpy()), rtol=1e-5
    )


def test_serialization_round_trip_keeps_the_mask(tmp_path):
    layer = LoraDense(_dense("relu"))
    _attach(layer, rank=3, mask=[1, 0, 1], orthogonality=0.5)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, layer(inputs))
    model.save(str(tmp_path / "adalora_dense.keras"))
    restored = keras.models.load_model(str(tmp_path / "adalora_dense.keras"))
    module = restored.layers[-1].get_adapter("a")
    assert isinstance(module, AdaLoraWeights) and module.orthogonality == 0.5
    np.testing.assert_array_equal(module.rank_mask.numpy(), [1, 0, 1])
    x = RNG.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: orthogonality=-1"):
        AdaLoraWeights(2, (3, 2), (2, 3), orthogonality=-1)
    with pytest.raises(ValueError, match="`a_shape` must end and `b_shape` must start"):
        AdaLoraWeights(2, (3, 4), (2, 3))
