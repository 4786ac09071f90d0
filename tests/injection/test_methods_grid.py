"""Every method on every supported encoder backbone: identity, exact math, placement, counts.

ALBERT calls one group of two blocks twice: its adapters are shared like the
blocks' weights (counted once, applied at every call). DeBERTa-v3's
disentangled attention has no attention spec, so prefix tuning is refused
there; for its other methods the NumPy reference calls a fresh, unadapted
KerasHub `DisentangledSelfAttention` (carrying the NumPy-merged LoRA weights)
as an oracle for that attention only.
"""

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
    randomize_weights,
)

BACKBONES = [
    "bert",
    "roberta",
    "distil_bert",
    "xlm_roberta",
    "electra",
    "albert",
    "deberta_v3",
]
NO_PREFIX = ("deberta_v3",)  # no attention spec for its disentangled attention
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


def _cells(methods):
    """`(kind, method)` pairs, without prefix tuning where it is refused."""
    return [
        (kind, method)
        for kind in BACKBONES
        for method in methods
        if not (kind in NO_PREFIX and method.startswith("prefix"))
    ]


def _outputs(backbone, x):
    out = backbone(x)
    return {k: np.array(v) for k, v in (out.items() if isinstance(out, dict) else [("seq", out)])}


def _blocks(backbone):
    """The distinct blocks (ALBERT's groups flattened)."""
    return keras_adapters.specs.get_backbone_spec(backbone).get_blocks(backbone)


def _adapted(kind, method):
    backbone = randomize_weights(make_backbone(kind))
    x = make_inputs(kind)
    base_out = _outputs(backbone, x)
    keras_adapters.add_adapter(backbone, METHODS[method][0], "a", verbose=False)
    return backbone, x, base_out


@pytest.mark.parametrize(("kind", "method"), _cells(IDENTITY_METHODS))
def test_identity_at_initialisation(kind, method):
    backbone, x, base_out = _adapted(kind, method)
    out = _outputs(backbone, x)
    for key in base_out:
        np.testing.assert_allclose(out[key], base_out[key], atol=1e-6)


@pytest.mark.parametrize(("kind", "method"), _cells(METHODS))
def test_trainable_parameters_equal_formula(kind, method):
    # ALBERT: two distinct blocks called twice each; adapters are counted once.
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


def _layout(layer):
    """(kernel subscripts, its input axes, its output axes), from the layer's equation."""
    equation = getattr(layer, "equation", None)
    if equation is None:  # a Dense kernel
        return "io", "i", "o"
    inputs, rest = equation.replace(" ", "").split(",")
    kernel, output = rest.split("->")
    ins = "".join(x for x in kernel if x in inputs and x not in output)
    outs = "".join(x for x in kernel if x in output and x not in inputs)
    return kernel, ins, outs


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
        kernel, inputs, outputs = _layout(layer.base_layer)
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


def _activation(block):
    """The block's own feed-forward activation (the base model's, not under test)."""
    dense = block._feedforward_intermediate_dense
    while hasattr(dense, "base_layer"):
        dense = dense.base_layer
    if hasattr(dense, "ffn_intermediate"):
        dense = dense.ffn_intermediate
    while hasattr(dense, "base_layer"):
        dense = dense.base_layer
    return lambda t: np.array(dense.activation(t))


def _deberta_attention_oracle(block, w, rel_embeddings, mask):
    """DeBERTa's disentangled attention: a fresh KerasHub layer holding `w` (LoRA merged)."""
    attention = block._self_attention_layer
    while hasattr(attention, "base_layer"):
        attention = attention.base_layer
    oracle = type(attention).from_config(attention.get_config())
    oracle.build((None, None, D))
    for name in ("query", "key", "value", "output"):
        dense = getattr(oracle, f"_{name}_dense")
        dense.kernel.assign(w[f"{name}_kernel"].astype("float32"))
        dense.bias.assign(w[f"{name}_bias"].astype("float32"))
    attention_mask = np.repeat(mask[:, None, :], mask.shape[1], axis=1)

    def attend(x):
        return np.array(
            oracle(
                x.astype("float32"), rel_embeddings=rel_embeddings, attention_mask=attention_mask
            ),
            "float64",
        )

    return attend


def _reference_block(kind, block, hidden, mask, method, rel_embeddings=None):
    w = _merged_weights(block, block_weights(block), method)
    attention_fn = None
    if kind == "deberta_v3":
        attention_fn = _deberta_attention_oracle(block, w, rel_embeddings, mask)
    return ref.encoder_block(
        hidden,
        mask,
        w,
        block.layer_norm_epsilon,
        _activation(block),
        _block_adapters(block, method),
        attention_fn,
    )


@pytest.mark.parametrize(("kind", "method"), _cells(METHODS))
def test_block_matches_numpy_reference(kind, method):
    backbone, x, _ = _adapted(kind, method)
    randomize_adapters(backbone)
    block = _blocks(backbone)[0]
    rng = np.random.default_rng(3)
    hidden = rng.normal(size=(3, 6, D)).astype("float32")
    mask = x["padding_mask"]
    kwargs = {}
    if kind == "deberta_v3":
        bucket_size = backbone.bucket_size
        kwargs["rel_embeddings"] = rng.normal(size=(3, 2 * bucket_size, D)).astype("float32")
    got = block(hidden, padding_mask=mask, **kwargs)
    expected = _reference_block(kind, block, hidden, mask, method, **kwargs)
    # Padded query rows attend to nothing real in some methods; compare real tokens.
    real = mask.astype(bool)
    np.testing.assert_allclose(np.array(got)[real], expected[real], atol=1e-4)


@pytest.mark.parametrize("method", ["lora_all", "houlsby", "pfeiffer", "parallel", "prefix"])
def test_albert_adapters_are_shared_across_repeated_calls(method):
    """ALBERT's output equals its group of reference blocks applied twice, adapters included."""
    backbone, x, _ = _adapted("albert", method)
    randomize_adapters(backbone)
    tokens = backbone.token_embedding(x["token_ids"])
    embedded = tokens + backbone.position_embedding(tokens)
    embedded += backbone.segment_embedding(x["segment_ids"])
    hidden = backbone.embeddings_projection(backbone.embeddings_layer_norm(embedded))
    hidden, mask = np.array(hidden, "float64"), x["padding_mask"]
    (group,) = backbone.transformer_layers
    calls = backbone.num_layers // backbone.num_groups
    assert calls == 2 and len(group) == 2
    for _ in range(calls):
        for block in group:
            hidden = _reference_block("albert", block, hidden, mask, method)
    real = mask.astype(bool)
    got = _outputs(backbone, x)["sequence_output"]
    np.testing.assert_allclose(got[real], hidden[real], atol=1e-4)


@pytest.mark.parametrize("reparameterize", [False, True])
def test_deberta_v3_refuses_prefix_tuning_and_stays_unchanged(reparameterize):
    backbone = randomize_weights(make_backbone("deberta_v3"))
    x = make_inputs("deberta_v3")
    before_outputs, before_layers = (
        _outputs(backbone, x),
        [dict(vars(b)) for b in _blocks(backbone)],
    )
    weights = [v.path for v in backbone.weights]
    config = keras_adapters.PrefixConfig(num_prefix_tokens=2, reparameterize=reparameterize)
    with pytest.raises(ValueError, match="DisentangledSelfAttention, which has no attention spec"):
        keras_adapters.add_adapter(backbone, config, "a", verbose=False)
    assert [dict(vars(b)) for b in _blocks(backbone)] == before_layers
    assert [v.path for v in backbone.weights] == weights
    assert all(v.trainable for v in backbone.weights)
    np.testing.assert_array_equal(_outputs(backbone, x)["seq"], before_outputs["seq"])
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.list_adapters(backbone)


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
        if kind in NO_PREFIX and method == "prefix":
            continue
        backbone = make_backbone(kind)
        before = [dict(vars(b)) for b in _blocks(backbone)]
        keras_adapters.add_adapter(backbone, METHODS[method][0], "a", verbose=False)
        for block, old in zip(_blocks(backbone), before):
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


@pytest.mark.parametrize(
    ("kind", "method"), _cells(["prefix", "prefix_mlp", "houlsby", "lora_all"])
)
def test_padding_does_not_change_real_positions(kind, method):
    backbone, _, _ = _adapted(kind, method)
    randomize_adapters(backbone)
    short = make_inputs(kind, batch=1, length=5)
    padded = {k: np.concatenate([v, np.zeros((1, 3), v.dtype)], axis=1) for k, v in short.items()}
    out_short, out_padded = _outputs(backbone, short), _outputs(backbone, padded)
    key = "sequence_output" if "sequence_output" in out_short else "seq"
    np.testing.assert_allclose(out_padded[key][:, :5], out_short[key], atol=1e-5)
