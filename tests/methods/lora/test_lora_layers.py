import keras
import numpy as np
import pytest

from keras_adapters.layers import LoraDense, LoraEinsumDense, LoraEmbedding, LoraWeights

RNG = np.random.default_rng(0)


def _attach(wrapper, name, rank, alpha=None, randomize=True, **kwargs):
    a_shape, b_shape = wrapper.lora_shapes(rank)
    module = LoraWeights(rank, a_shape, b_shape, alpha=alpha, **kwargs)
    module.build()
    if randomize:
        module.lora_b.assign(RNG.normal(size=b_shape).astype("float32"))
    wrapper.add_adapter(name, module)
    wrapper.active_adapters = wrapper.adapter_names
    return module


def _dense(activation=None):
    base = keras.layers.Dense(6, activation=activation)
    base.build((None, 5))
    return base


def test_dense_matches_numpy_reference_with_activation():
    base = _dense("relu")
    layer = LoraDense(base)
    m = _attach(layer, "a", rank=3, alpha=6)
    x = RNG.normal(size=(2, 4, 5)).astype("float32")
    kernel, bias = base.kernel.numpy(), base.bias.numpy()
    expected = np.maximum(x @ kernel + bias + 2.0 * x @ m.lora_a.numpy() @ m.lora_b.numpy(), 0)
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)


def test_identity_at_initialisation():
    base = _dense("gelu")
    layer = LoraDense(base)
    _attach(layer, "a", rank=2, randomize=False)
    x = RNG.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(layer(x), base(x), atol=1e-6)


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, x_shape",
    [
        ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5)),
        ("abcd,cde->abe", (None, 6), "e", (2, 4, 2, 3)),
        ("btd,ndh->btnh", (None, 2, 3), "nh", (2, 4, 5)),
    ],
)
def test_einsum_dense_matches_numpy_reference(equation, output_shape, bias_axes, x_shape):
    base = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    base.build(x_shape)
    layer = LoraEinsumDense(base)
    m = _attach(layer, "a", rank=2, alpha=4, use_rslora=True)  # scale 4 / sqrt(2)
    x = RNG.normal(size=x_shape).astype("float32")
    merged = np.einsum(layer.factorization.merge_equation, m.lora_a.numpy(), m.lora_b.numpy())
    expected = np.einsum(equation, x, base.kernel.numpy() + 4 / np.sqrt(2) * merged)
    expected = expected + base.bias.numpy()
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize(
    "equation, output_shape, x_shape",
    [
        ("abc,cde->abde", (None, 2, 3), (2, 4, 5)),  # flattened to matmuls
        ("abc,cde->adbe", (2, None, 3), (2, 4, 5)),  # heads first: einsums kept
    ],
)
def test_lora_gradients_match_numpy_reference(equation, output_shape, x_shape):
    import tensorflow as tf

    base = keras.layers.EinsumDense(equation, output_shape=output_shape)
    base.build(x_shape)
    layer = LoraEinsumDense(base)
    m = _attach(layer, "a", rank=2, alpha=3)  # scale 1.5
    x = RNG.normal(size=x_shape).astype("float32")
    a, b = m.lora_a.numpy(), m.lora_b.numpy()
    f = layer.factorization.for_input_rank(3)
    weights = RNG.normal(size=np.einsum(equation, x, base.kernel.numpy()).shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * weights.astype("float32"))
    grad_a, grad_b = tape.gradient(loss, [m.lora_a, m.lora_b])
    # loss = sum(w * 1.5 (x A) B) + const: both gradients by einsum in float64.
    inputs_part, low_sub = f.input_equation.split("->")
    x_sub, a_sub = inputs_part.split(",")
    b_sub, out_sub = f.output_equation.split(",")[1].split("->")
    low = np.einsum(f.input_equation, x, a)
    expected_b = 1.5 * np.einsum(f"{low_sub},{out_sub}->{b_sub}", low, weights)
    upstream = 1.5 * np.einsum(f"{out_sub},{b_sub}->{low_sub}", weights, b)
    expected_a = np.einsum(f"{x_sub},{low_sub}->{a_sub}", x, upstream)
    np.testing.assert_allclose(grad_a, expected_a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grad_b, expected_b, rtol=1e-4, atol=1e-4)


def test_lora_update_runs_on_unknown_batch_and_length():
    base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3))
    base.build((None, None, 5))
    layer = LoraEinsumDense(base)
    _attach(layer, "a", rank=2)
    inputs = keras.Input(shape=(None, 5))
    model = keras.Model(inputs, layer(inputs))
    x = RNG.normal(size=(3, 7, 5)).astype("float32")
    np.testing.assert_allclose(model(x), layer(x), atol=1e-6)
    assert model(x).shape == (3, 7, 2, 3)


def test_two_named_adapters_add_and_switch():
    base = _dense()
    layer = LoraDense(base)
    a = _attach(layer, "a", rank=2)
    b = _attach(layer, "b", rank=3, alpha=6)
    x = RNG.normal(size=(3, 5)).astype("float32")
    delta = lambda m, s: s * x @ m.lora_a.numpy() @ m.lora_b.numpy()  # noqa: E731
    np.testing.assert_allclose(layer(x), base(x) + delta(a, 1.0) + delta(b, 2.0), atol=1e-5)
    layer.active_adapters = ["b"]
    np.testing.assert_allclose(layer(x), base(x) + delta(b, 2.0), atol=1e-5)
    layer.active_adapters = []
    np.testing.assert_array_equal(layer(x), base(x))


@pytest.mark.parametrize("kind", ["dense", "einsum", "embedding"])
def test_merge_equals_unmerged_and_unmerge_restores_kernel(kind):
    if kind == "dense":
        base, x = _dense("tanh"), RNG.normal(size=(3, 5)).astype("float32")
        layer = LoraDense(base)
    elif kind == "einsum":
        base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")
        base.build((None, None, 5))
        x, layer = RNG.normal(size=(2, 4, 5)).astype("float32"), LoraEinsumDense(base)
    else:
        base = keras.layers.Embedding(12, 4)
        base.build((None, 3))
        x, layer = np.array([[1, 2, 3], [11, 0, 5]]), LoraEmbedding(base)
    _attach(layer, "a", rank=2, alpha=3)
    original = np.array(layer.kernel.numpy())
    unmerged = np.array(layer(x))
    assert layer.merge() == ("a",)
    np.testing.assert_allclose(layer(x), unmerged, atol=1e-5)
    assert not np.allclose(layer.kernel.numpy(), original)
    layer.unmerge()
    np.testing.assert_allclose(layer.kernel.numpy(), original, atol=1e-6)
    np.testing.assert_allclose(layer(x), unmerged, atol=1e-5)


def test_merged_adapter_cannot_be_removed():
    layer = LoraDense(_dense())
    _attach(layer, "a", rank=2)
    layer.merge()
    with pytest.raises(ValueError, match="merged into"):
        layer.remove_adapter("a")


def test_embedding_matches_numpy_reference_forward_and_reverse():
    base = keras.layers.ReversibleEmbedding(12, 4, tie_weights=True)
    base.build((None, 3))
    layer = LoraEmbedding(base)
    m = _attach(layer, "a", rank=2, alpha=4, a_initializer="random_normal")
    table = base.embeddings.numpy() + 2.0 * m.lora_a.numpy() @ m.lora_b.numpy()
    ids = np.array([[1, 2, 3], [11, 0, 5]])
    np.testing.assert_allclose(layer(ids), table[ids], atol=1e-5)
    hidden = RNG.normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(layer(hidden, reverse=True), hidden @ table.T, atol=1e-5)


def test_dropout_applies_to_lora_input_only_in_training():
    base = _dense()
    layer = LoraDense(base)
    _attach(layer, "a", rank=2, dropout=0.5)
    x = np.ones((64, 5), "float32")
    np.testing.assert_allclose(layer(x, training=False), layer(x, training=False))
    assert not np.allclose(layer(x, training=True), layer(x, training=False))


def test_adapter_weights_stay_float32_under_mixed_precision():
    base = keras.layers.Dense(6, dtype="mixed_bfloat16")
    base.build((None, 5))
    layer = LoraDense(base)
    a_shape, b_shape = layer.lora_shapes(2)
    module = LoraWeights(2, a_shape, b_shape, dtype="mixed_bfloat16")
    module.build()
    layer.add_adapter("a", module)
    assert module.lora_a.dtype == "float32" and module.lora_b.dtype == "float32"
    assert layer(np.ones((2, 5), "float32")).dtype == "bfloat16"


def test_serialization_round_trip_keeps_adapters(tmp_path):
    base = _dense("relu")
    layer = LoraDense(base)
    _attach(layer, "a", rank=2)
    x = RNG.normal(size=(3, 5)).astype("float32")
    inputs = keras.Input((5,))
    model = keras.Model(inputs, layer(inputs))
    model.save(str(tmp_path / "lora_dense.keras"))
    restored = keras.models.load_model(str(tmp_path / "lora_dense.keras"))
    np.testing.assert_allclose(restored(x), model(x), atol=1e-6)
    assert restored.layers[-1].adapter_names == ("a",)


def test_wrong_base_layer_type():
    with pytest.raises(ValueError, match="LoraDense wraps a `keras.layers.Dense`"):
        LoraDense(keras.layers.LayerNormalization())
    with pytest.raises(ValueError, match="Received: rank=0"):
        LoraWeights(0, (3, 0), (0, 3))


def test_lora_refuses_a_projection_another_merging_method_wraps():
    import keras_adapters
    from tests.support.tiny_models import make_backbone

    backbone = make_backbone("bert")
    keras_adapters.add_adapter(backbone, keras_adapters.IA3Config(), "ia3", verbose=False)
    before = [v.path for v in backbone.weights]
    with pytest.raises(ValueError, match="LoRA cannot adapt .*already wrapped by IA3"):
        keras_adapters.add_adapter(
            backbone, keras_adapters.LoraConfig(targets=["value"]), "lora", verbose=False
        )
    assert [v.path for v in backbone.weights] == before
