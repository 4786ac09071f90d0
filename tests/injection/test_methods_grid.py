"""Every method on every supported backbone: identity, exact math, placement, counts."""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import (
    LoraEinsumDense,
    MovedSlot,
    ParallelAdapterSite,
    PostNormAdapterSite,
    PrefixAttention,
    SerialAdapterSite,
)
from tests.support import numpy_reference as ref
from tests.support.tiny_models import (
    TINY,
    block_weights,
    make_backbone,
    make_inputs,
    module_weights,
    randomize_adapters,
)

BACKBONES = ["bert", "roberta", "distil_bert"]
D, LAYERS, M = TINY["hidden_dim"], TINY["num_layers"], 2
BOTTLENECK = 2 * D * M + M + D  # down kernel + bias, up kernel + bias
METHODS = {
    "lora": (keras_adapters.LoraConfig(rank=3, alpha=6), LAYERS * 2 * (D * 3 + 3 * D)),
    "lora_all": (
        keras_adapters.LoraConfig(
            rank=2,
            targets=["query", "key", "value", "attention_output", "ffn_intermediate", "ffn_output"],
        ),
        LAYERS * (4 * (D * 2 + 2 * D) + (D * 2 + 2 * 16) + (16 * 2 + 2 * D)),
    ),
    "dora": (  # LoRA's A, B plus a magnitude per output feature
        keras_adapters.DoraConfig(rank=3, alpha=6),
        LAYERS * 2 * (D * 3 + 3 * D + D),
    ),
    "ia3": (keras_adapters.IA3Config(), LAYERS * (D + D + 16)),  # l_k, l_v, l_ff
    "houlsby": (keras_adapters.HoulsbyConfig(bottleneck_dim=M), LAYERS * 2 * BOTTLENECK),
    "pfeiffer": (keras_adapters.PfeifferConfig(bottleneck_dim=M), LAYERS * BOTTLENECK),
    "parallel": (keras_adapters.ParallelConfig(bottleneck_dim=M), LAYERS * BOTTLENECK),
    "prefix": (keras_adapters.PrefixConfig(num_prefix_tokens=3), LAYERS * 2 * 3 * D),
    "prefix_mlp": (
        keras_adapters.PrefixConfig(num_prefix_tokens=3, reparameterize=True, projection_dim=5),
        LAYERS * (3 * D + D * 5 + 5 + 5 * 2 * D + 2 * D),
    ),
}
IDENTITY_METHODS = [m for m in METHODS if not m.startswith("prefix")]


def _outputs(backbone, x):
    out = backbone(x)
    return {k: np.array(v) for k, v in (out.items() if isinstance(out, dict) else [("seq", out)])}


def _adapted(kind, method):
    backbone = make_backbone(kind)
    x = make_inputs(kind)
    base_out = _outputs(backbone, x)
    keras_adapters.add_adapter(backbone, METHODS[method][0], "a", verbose=False)
    return backbone, x, base_out


@pytest.mark.parametrize("kind", BACKBONES)
@pytest.mark.parametrize("method", IDENTITY_METHODS)
def test_identity_at_initialisation(kind, method):
    backbone, x, base_out = _adapted(kind, method)
    out = _outputs(backbone, x)
    for key in base_out:
        np.testing.assert_allclose(out[key], base_out[key], atol=1e-6)


@pytest.mark.parametrize("kind", BACKBONES)
@pytest.mark.parametrize("method", list(METHODS))
def test_trainable_parameters_equal_formula(kind, method):
    backbone, _, _ = _adapted(kind, method)
    report = keras_adapters.trainable_report(backbone)
    expected = METHODS[method][1]
    assert report.adapters["a"][1] == expected
    assert report.trainable == expected
    assert sum(np.prod(v.shape) for v in backbone.trainable_weights) == expected


def _block_adapters(block, method):
    """The block's adapter parameters, in the form the NumPy reference takes."""
    config = METHODS[method][0]
    if method == "houlsby":
        att = module_weights(block._self_attention_dropout.get_adapter("a"))
        ffn = module_weights(block._feedforward_dropout.get_adapter("a"))
        return {"houlsby": (att, ffn, config.activation, config.scaling)}
    if method == "pfeiffer":
        w = module_weights(block._feedforward_layer_norm.get_adapter("a"))
        return {"pfeiffer": (w, config.activation, config.scaling)}
    if method == "parallel":
        w = module_weights(block._feedforward_intermediate_dense.get_adapter("a"))
        return {"parallel": (w, config.activation, config.scaling)}
    if method.startswith("prefix"):
        keys, values = block._self_attention_layer.get_adapter("a").prefixes()
        return {"prefix": (np.array(keys), np.array(values))}
    return {}


# Kernel subscripts, input axes, output axes of the block's projections.
LAYOUTS = {
    "query": ("cde", "c", "de"),
    "key": ("cde", "c", "de"),
    "value": ("cde", "c", "de"),
    "output": ("cde", "cd", "e"),
    "ffn_intermediate": ("io", "i", "o"),
    "ffn_output": ("io", "i", "o"),
}


def _merged_weights(block, w, method):
    """Base weights with the LoRA, DoRA or IA3 update folded in, computed here in NumPy."""
    if not method.startswith(("lora", "dora", "ia3")):
        return w
    attention = block._self_attention_layer
    layers = {
        "query": attention._query_dense,
        "key": attention._key_dense,
        "value": attention._value_dense,
        "output": attention._output_dense,
        "ffn_intermediate": block._feedforward_intermediate_dense,
        "ffn_output": block._feedforward_output_dense,
    }
    for name, layer in layers.items():
        if not (
            isinstance(getattr(layer, "base_layer", None), keras.layers.Layer)
            and hasattr(layer, "merge")
        ):
            continue
        kernel, inputs, outputs = LAYOUTS[name]
        m = layer.get_adapter("a")
        if method == "ia3":  # W * l over the output axes and b * l, or W * l over the inputs
            l, axes = m.ia3_l.numpy(), inputs if m.feedforward else outputs  # noqa: E741
            w[f"{name}_kernel"] = np.einsum(f"{kernel},{axes}->{kernel}", w[f"{name}_kernel"], l)
            if not m.feedforward:
                w[f"{name}_bias"] = np.einsum(f"{outputs},{axes}->{outputs}", w[f"{name}_bias"], l)
            continue
        a, b = m.lora_a.numpy(), m.lora_b.numpy()
        v = w[f"{name}_kernel"] + np.einsum(f"{inputs}r,r{outputs}->{kernel}", a, b) * m.scale
        if method == "dora":  # W' = m V / ||V||, the norm over the input axes
            norm = np.sqrt((v**2).sum(axis=tuple(kernel.index(c) for c in inputs)))
            v = np.einsum(f"{kernel},{outputs}->{kernel}", v, m.magnitude.numpy() / norm)
        w[f"{name}_kernel"] = v
    return w


@pytest.mark.parametrize("kind", BACKBONES)
@pytest.mark.parametrize("method", list(METHODS))
def test_block_matches_numpy_reference(kind, method):
    backbone, x, _ = _adapted(kind, method)
    randomize_adapters(backbone)
    block = backbone.transformer_layers[0]
    hidden = np.random.default_rng(3).normal(size=(3, 6, D)).astype("float32")
    mask = x["padding_mask"]
    got = block(hidden, padding_mask=mask)
    w = _merged_weights(block, block_weights(block), method)
    dense = block._feedforward_intermediate_dense
    while hasattr(dense, "base_layer"):
        dense = dense.base_layer
    if hasattr(dense, "ffn_intermediate"):
        dense = dense.ffn_intermediate
    while hasattr(dense, "base_layer"):
        dense = dense.base_layer
    activation = lambda t: np.array(dense.activation(t))  # noqa: E731 - the base model's own
    expected = ref.encoder_block(
        hidden, mask, w, block.layer_norm_epsilon, activation, _block_adapters(block, method)
    )
    # Padded query rows attend to nothing real in some methods; compare real tokens.
    real = mask.astype(bool)
    np.testing.assert_allclose(np.array(got)[real], expected[real], atol=2e-5)


@pytest.mark.parametrize("kind", BACKBONES)
def test_each_placement_wraps_exactly_its_sublayers(kind):
    expectations = {
        "houlsby": {
            "_self_attention_dropout": SerialAdapterSite,
            "_feedforward_dropout": SerialAdapterSite,
        },
        "pfeiffer": {"_feedforward_layer_norm": PostNormAdapterSite},
        "parallel": {
            "_feedforward_intermediate_dense": ParallelAdapterSite,
            "_feedforward_output_dense": MovedSlot,
            "_feedforward_dropout": MovedSlot,
        },
        "prefix": {"_self_attention_layer": PrefixAttention},
    }
    for method, changed in expectations.items():
        backbone = make_backbone(kind)
        before = [dict(vars(b)) for b in backbone.transformer_layers]
        keras_adapters.add_adapter(backbone, METHODS[method][0], "a", verbose=False)
        for block, old in zip(backbone.transformer_layers, before):
            for attribute, value in old.items():
                if not isinstance(value, keras.layers.Layer):
                    continue
                now = getattr(block, attribute)
                if attribute in changed:
                    assert isinstance(now, changed[attribute]), (method, attribute)
                else:
                    assert now is value, (method, attribute)


def test_lora_wraps_query_and_value_only_by_default():
    backbone = make_backbone()
    keras_adapters.add_adapter(backbone, keras_adapters.LoraConfig(rank=2), "a", verbose=False)
    attention = backbone.transformer_layers[1]._self_attention_layer
    assert isinstance(attention._query_dense, LoraEinsumDense)
    assert isinstance(attention._value_dense, LoraEinsumDense)
    assert not isinstance(attention._key_dense, LoraEinsumDense)
    assert not isinstance(attention._output_dense, LoraEinsumDense)


@pytest.mark.parametrize("kind", BACKBONES)
@pytest.mark.parametrize("method", ["prefix", "prefix_mlp", "houlsby", "lora_all"])
def test_padding_does_not_change_real_positions(kind, method):
    backbone, _, _ = _adapted(kind, method)
    randomize_adapters(backbone)
    short = make_inputs(kind, batch=1, length=5)
    padded = {k: np.concatenate([v, np.zeros((1, 3), v.dtype)], axis=1) for k, v in short.items()}
    out_short, out_padded = _outputs(backbone, short), _outputs(backbone, padded)
    key = "sequence_output" if "sequence_output" in out_short else "seq"
    np.testing.assert_allclose(out_padded[key][:, :5], out_short[key], atol=1e-5)
