import numpy as np
import pytest

from keras_adapters.layers import align_axes, factorize_einsum

# Every EinsumDense equation KerasHub's text models use, plus Dense's.
EQUATIONS = {
    "abc,cde->abde": ((2, 5, 6), (6, 3, 4)),  # MHA q/k/v
    "abcd,cde->abe": ((2, 5, 3, 4), (3, 4, 6)),  # MHA output
    "bqm,muh->bquh": ((2, 5, 6), (6, 3, 4)),  # Llama query
    "btd,ndh->btnh": ((2, 5, 6), (3, 6, 4)),  # Gemma query (heads first)
    "btnh,nhd->btd": ((2, 5, 3, 4), (3, 4, 6)),  # Gemma output
    "...i,io->...o": ((2, 5, 6), (6, 7)),  # Dense
}


@pytest.mark.parametrize("equation", EQUATIONS)
def test_low_rank_product_equals_merged_kernel_product(equation):
    x_shape, kernel_shape = EQUATIONS[equation]
    f = factorize_einsum(equation)
    kernel_axes = equation.split("->")[0].split(",")[1]
    a_shape, b_shape = f.factor_shapes(kernel_axes, kernel_shape, rank=2)
    rng = np.random.default_rng(0)
    x, a, b = (rng.normal(size=s) for s in (x_shape, a_shape, b_shape))
    two_step = np.einsum(f.output_equation, np.einsum(f.input_equation, x, a), b)
    merged = np.einsum(f.merge_equation, a, b)
    assert merged.shape == kernel_shape
    np.testing.assert_allclose(two_step, np.einsum(equation, x, merged), rtol=1e-10)


def test_factor_shapes_of_attention_projection():
    f = factorize_einsum("abc,cde->abde")
    assert f.factor_shapes("cde", (384, 12, 32), 8) == ((384, 8), (8, 12, 32))
    assert f.input_equation == "abc,cr->abr" and f.output_equation == "abr,rde->abde"


def test_rank_letter_avoids_letters_in_use():
    f = factorize_einsum("qr,rs->qs")
    assert "r" in f.input_equation and f.input_equation.count(",") == 1
    rank_axis = f.input_equation.split("->")[1][-1]
    assert rank_axis not in "qrs"


@pytest.mark.parametrize("equation", ["abc,cd->abcd", "ab,bc->ab", "ab,bc->abc"])
def test_unfactorable_equations_are_refused(equation):
    with pytest.raises(ValueError, match="Received: equation="):
        factorize_einsum(equation)


def test_malformed_equation():
    with pytest.raises(ValueError, match="must look like 'input,kernel->output'"):
        factorize_einsum("abc->ab")


def test_ellipsis_is_spelled_out_for_a_known_input_rank():
    f = factorize_einsum("...i,io->...o").for_input_rank(3)
    assert "." not in f.input_equation + f.output_equation
    rng = np.random.default_rng(1)
    x, a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(2, 5))
    np.testing.assert_allclose(
        np.einsum(f.output_equation, np.einsum(f.input_equation, x, a), b), x @ a @ b, rtol=1e-10
    )
    assert factorize_einsum("abc,cde->abde").for_input_rank(3).input_equation == "abc,cr->abr"


@pytest.mark.parametrize(
    "axes, subscripts, shape",
    [
        ("de", "cde", (3, 4)),  # q/k/v kernel: output axes
        ("de", "abde", (3, 4)),  # q/k/v outputs
        ("c", "abc", (3,)),  # q/k/v inputs
        ("cd", "abcd", (3, 4)),  # attention-output inputs
        ("nh", "ndh", (3, 1, 4)),  # Gemma query kernel: heads first, then the model dim
        ("o", "...o", (3,)),  # Dense outputs
        ("i", "io", (3, 1)),  # Dense kernel: input axis
    ],
)
def test_align_axes_broadcasts_like_numpy_einsum(axes, subscripts, shape):
    rng = np.random.default_rng(2)
    vector = rng.normal(size=(3, 4)[: len(axes)]).astype("float32")
    aligned = np.array(align_axes(vector, axes, subscripts))
    assert aligned.shape == shape
    letters = subscripts.replace("...", "")
    sizes = {a: n for a, n in zip(axes, vector.shape)}
    tensor = rng.normal(size=[sizes.get(c, 2) for c in letters]).astype("float32")
    expected = np.einsum(f"{letters},{axes}->{letters}", tensor, vector)
    np.testing.assert_allclose(tensor * aligned, expected, rtol=1e-6)


def test_align_axes_transposes_axes_listed_out_of_order():
    vector = np.arange(12, dtype="float32").reshape(4, 3)  # axes "ed"
    np.testing.assert_array_equal(align_axes(vector, "ed", "abde"), vector.T)


@pytest.mark.parametrize("axes, subscripts", [("a", "a...b"), ("x", "abc"), ("", "abc")])
def test_align_axes_refuses_axes_it_cannot_place(axes, subscripts):
    with pytest.raises(ValueError, match="Received: axes="):
        align_axes(np.ones((2,) * len(axes), "float32"), axes, subscripts)


def test_unsplittable_equation_names_the_method():
    with pytest.raises(ValueError, match="^IA3 needs every kernel axis"):
        factorize_einsum("abc,cd->abcd", method="IA3")


# Equations whose update is two matmuls on the flattened input, and the
# number of leading axes flattened; the others keep the einsums.
FLAT_BATCH_RANKS = {
    "abc,cde->abde": 2,
    "abcd,cde->abe": 2,
    "bqm,muh->bquh": 2,
    "btd,ndh->btnh": 2,
    "btnh,nhd->btd": 2,
    "...i,io->...o": 2,
}


@pytest.mark.parametrize("equation", FLAT_BATCH_RANKS)
def test_flat_batch_rank(equation):
    x_shape, _ = EQUATIONS[equation]
    f = factorize_einsum(equation).for_input_rank(len(x_shape))
    assert f.flat_batch_rank() == FLAT_BATCH_RANKS[equation]


def test_flat_batch_rank_refuses_reordered_outputs_and_ellipsis():
    assert factorize_einsum("abc,cde->adbe").flat_batch_rank() is None
    assert factorize_einsum("...i,io->...o").flat_batch_rank() is None
