"""IA3 on tiny BERT and Llama 3 (grouped-query attention, gated FFN): sites, math, refusals."""

import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import AdapterWrapper, IA3Dense, IA3EinsumDense, LoraEinsumDense
from tests.support.tiny_models import (
    TINY,
    make_backbone,
    make_decoder,
    make_decoder_inputs,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

# Per model: slot -> (attribute path in a block, kernel subscripts, scaled axes, input-scaled?).
# Written from the KerasHub layer definitions, not from the library's derivation.
BERT_SITES = {
    "key": ("_self_attention_layer._key_dense", "cde", "de", False),
    "value": ("_self_attention_layer._value_dense", "cde", "de", False),
    "ffn_output": ("_feedforward_output_dense", "io", "i", True),
}
LLAMA3_SITES = {
    "key": ("_self_attention_layer._key_dense", "mvh", "vh", False),  # 2 kv heads x dim 4
    "value": ("_self_attention_layer._value_dense", "mvh", "vh", False),
    "ffn_output": ("_feedforward_output_dense", "io", "i", True),  # input: silu(gate) * up
}


def _get(block, dotted):
    layer = block
    for attribute in dotted.split("."):
        layer = getattr(layer, attribute)
    return layer


def _numpy_merged(adapted, reference, sites):
    """Puts `W * l` (and `b * l` for output scaling), computed in NumPy, into `reference`."""
    for block, base_block in zip(adapted.transformer_layers, reference.transformer_layers):
        for attribute, kernel_axes, axes, feedforward in sites.values():
            wrapper, layer = _get(block, attribute), _get(base_block, attribute)
            l = wrapper.get_adapter("a").ia3_l.numpy()  # noqa: E741 - the paper's name
            kernel = np.einsum(f"{kernel_axes},{axes}->{kernel_axes}", layer.kernel.numpy(), l)
            layer.kernel.assign(kernel)
            if layer.bias is not None and not feedforward:
                layer.bias.assign(layer.bias.numpy() * l)


def _structure(model):
    layers = model._flatten_layers()
    wrappers = [type(x).__name__ for x in layers if isinstance(x, AdapterWrapper)]
    return wrappers, weights_by_path(model)


def _assert_unchanged(model, before):
    wrappers, weights = _structure(model)
    assert wrappers == before[0] and weights.keys() == before[1].keys()
    for path, value in weights.items():
        np.testing.assert_array_equal(value, before[1][path])


MODELS = {  # maker, inputs, sites, (key/value heads, head dim, FFN width)
    "bert": (make_backbone, make_inputs(), BERT_SITES, (2, 4, TINY["intermediate_dim"])),
    "llama3": (make_decoder, make_decoder_inputs(), LLAMA3_SITES, (2, 4, 32)),
}


def _sequence(outputs):
    return np.array(outputs["sequence_output"] if isinstance(outputs, dict) else outputs)


@pytest.mark.parametrize("kind", list(MODELS))
def test_sites_shapes_and_numpy_reference(kind):
    make, inputs, sites, (heads, head_dim, inner) = MODELS[kind]
    backbone = make(seed=0)
    base = _sequence(backbone(inputs))
    report = keras_adapters.add_adapter(backbone, keras_adapters.IA3Config(), "a", verbose=False)
    for block in backbone.transformer_layers:
        for slot, (attribute, _, _, feedforward) in sites.items():
            wrapper = _get(block, attribute)
            assert isinstance(wrapper, IA3Dense if slot == "ffn_output" else IA3EinsumDense)
            module = wrapper.get_adapter("a")
            assert module.feedforward == feedforward
            assert module.scale_shape == ((inner,) if feedforward else (heads, head_dim))
    assert report.adapters["a"][1] == 2 * (2 * heads * head_dim + inner) == report.trainable
    np.testing.assert_array_equal(_sequence(backbone(inputs)), base)  # ones: the identity
    randomize_adapters(backbone)
    reference = make(seed=0)
    _numpy_merged(backbone, reference, sites)
    got = _sequence(backbone(inputs))
    assert np.abs(got - base).max() > 1e-3  # (BERT's small init: small but real)
    np.testing.assert_allclose(got, _sequence(reference(inputs)), atol=1e-5)


def test_merge_on_llama3_equals_unmerged_and_unmerge_restores():
    backbone = make_decoder()
    keras_adapters.add_adapter(backbone, keras_adapters.IA3Config(), "a", verbose=False)
    randomize_adapters(backbone)
    x = make_decoder_inputs()
    unmerged, before = np.array(backbone(x)), weights_by_path(backbone)
    keras_adapters.merge_adapters(backbone)
    changed = [p for p, w in weights_by_path(backbone).items() if not np.array_equal(w, before[p])]
    assert sorted(changed) == sorted(
        f"transformer_layer_{i}/{name}/kernel"
        for i in range(2)
        for name in ("self_attention/key", "self_attention/value", "feedforward_output_dense")
    )
    np.testing.assert_allclose(backbone(x), unmerged, atol=1e-5)
    keras_adapters.unmerge_adapters(backbone)
    for path, value in weights_by_path(backbone).items():
        np.testing.assert_allclose(value, before[path], rtol=1e-6, atol=1e-7, err_msg=path)


def test_gpt_neo_x_has_no_key_slot():
    backbone = make_decoder("gpt_neo_x")
    before = _structure(backbone)
    with pytest.raises(
        ValueError,
        match=r"`targets` names the slots \['key', 'value'\], which the GPTNeoXBackbone spec "
        r"does not define\. Slots of GPTNeoXBackbone: .*'query_key_value'.*Received: targets=",
    ):
        keras_adapters.add_adapter(backbone, keras_adapters.IA3Config(), "a", verbose=False)
    _assert_unchanged(backbone, before)


@pytest.mark.parametrize(
    "config, message",
    [
        (
            keras_adapters.IA3Config(targets=r".*dense", feedforward=["ffn_gate"]),
            r"`feedforward` names the slots \['ffn_gate'\], which the BertBackbone spec does "
            r"not define.*Received: feedforward=\['ffn_gate'\]",
        ),
        (
            keras_adapters.IA3Config(targets=["ffn_intermediate"], feedforward=()),
            r"IA3 cannot scale the output of 'transformer_layer_0/feedforward_intermediate_dense'"
            r": Layer .* applies the activation 'gelu_approximate' inside.*feedforward target.*"
            r"Received: targets=\['ffn_intermediate'\], feedforward=\[\]",
        ),
        (
            keras_adapters.IA3Config(targets=r".*layer_norm", feedforward=()),
            r"IA3 supports keras.layers.EinsumDense, keras.layers.Dense. Layer "
            r"'transformer_layer_0/self_attention_layer_norm' is a LayerNormalization",
        ),
        (
            keras_adapters.IA3Config(targets=["query"], feedforward=(), layers=[5]),
            r"`layers` must hold block indices in \[-2, 1\].*Received: layers=\[5\]",
        ),
    ],
    ids=["feedforward_slot_missing", "nonlinear_output", "layer_norm", "bad_layers"],
)
def test_bad_input_is_refused_before_the_model_changes(config, message):
    backbone = make_backbone()
    before = _structure(backbone)
    with pytest.raises(ValueError, match=message):
        keras_adapters.add_adapter(backbone, config, "a", verbose=False)
    _assert_unchanged(backbone, before)


def test_a_nonlinear_layer_can_be_a_feedforward_target():
    backbone = make_backbone()
    config = keras_adapters.IA3Config(
        targets=["ffn_intermediate"], feedforward=["ffn_intermediate"]
    )
    keras_adapters.add_adapter(backbone, config, "a", verbose=False)
    wrapper = backbone.transformer_layers[0]._feedforward_intermediate_dense
    assert wrapper.get_adapter("a").scale_shape == (TINY["hidden_dim"],)


def test_a_projection_lora_already_adapts_is_refused():
    backbone = make_backbone()
    keras_adapters.add_adapter(backbone, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    before = _structure(backbone)
    config = keras_adapters.IA3Config(targets=["key", "value"], feedforward=())
    with pytest.raises(
        ValueError,
        match=r"IA3 cannot adapt 'transformer_layer_0/self_attention_layer/value': it is "
        "already wrapped by LoraEinsumDense",
    ):
        keras_adapters.add_adapter(backbone, config, "ia3", verbose=False)
    _assert_unchanged(backbone, before)
    keras_adapters.add_adapter(backbone, config.replace(targets=["key"]), "ia3", verbose=False)
    attention = backbone.transformer_layers[0]._self_attention_layer
    assert isinstance(attention._key_dense, IA3EinsumDense)
    assert isinstance(attention._value_dense, LoraEinsumDense)
