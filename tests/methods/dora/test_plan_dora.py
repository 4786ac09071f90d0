"""DoRA on tiny BERT and Llama 3 (grouped-query attention): sites, math, merge, refusals."""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import AdapterWrapper, DoraDense, DoraEinsumDense
from tests.support.tiny_models import (
    make_backbone,
    make_decoder,
    make_decoder_inputs,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

# slot -> (attribute path in a block, kernel subscripts, input axes, output axes),
# written from the KerasHub layer definitions.
BERT_SITES = {
    "query": ("_self_attention_layer._query_dense", "cde", "c", "de"),
    "value": ("_self_attention_layer._value_dense", "cde", "c", "de"),
}
LLAMA3_SITES = {
    "query": ("_self_attention_layer._query_dense", "muh", "m", "uh"),  # 4 heads x 4
    "key": ("_self_attention_layer._key_dense", "mvh", "m", "vh"),  # 2 kv heads x 4
    "value": ("_self_attention_layer._value_dense", "mvh", "m", "vh"),
    "attention_output": ("_self_attention_layer._output_dense", "uhm", "uh", "m"),
    "ffn_gate": ("_feedforward_gate_dense", "io", "i", "o"),
    "ffn_intermediate": ("_feedforward_intermediate_dense", "io", "i", "o"),
    "ffn_output": ("_feedforward_output_dense", "io", "i", "o"),
}
MODELS = {
    "bert": (make_backbone, make_inputs(), BERT_SITES, keras_adapters.DoraConfig(rank=2)),
    "llama3": (
        make_decoder,
        make_decoder_inputs(),
        LLAMA3_SITES,
        keras_adapters.DoraConfig(rank=3, alpha=6, targets="all-linear"),
    ),
}


def _get(block, dotted):
    layer = block
    for attribute in dotted.split("."):
        layer = getattr(layer, attribute)
    return layer


def _sequence(outputs):
    return np.array(outputs["sequence_output"] if isinstance(outputs, dict) else outputs)


def _numpy_decomposed(kernel, module, kernel_axes, in_axes, out_axes):
    a, b = module.lora_a.numpy(), module.lora_b.numpy()
    v = kernel + module.scale * np.einsum(f"{in_axes}r,r{out_axes}->{kernel_axes}", a, b)
    norm = np.sqrt((v**2).sum(axis=tuple(kernel_axes.index(c) for c in in_axes)))
    ratio = module.magnitude.numpy() / norm
    return np.einsum(f"{kernel_axes},{out_axes}->{kernel_axes}", v, ratio), norm


def _structure(model):
    layers = model._flatten_layers()
    wrappers = [type(x).__name__ for x in layers if isinstance(x, AdapterWrapper)]
    return wrappers, weights_by_path(model)


def _assert_unchanged(model, before):
    wrappers, weights = _structure(model)
    assert wrappers == before[0] and weights.keys() == before[1].keys()
    for path, value in weights.items():
        np.testing.assert_array_equal(value, before[1][path])


@pytest.mark.parametrize("kind", list(MODELS))
def test_sites_identity_and_numpy_reference(kind):
    make, inputs, sites, config = MODELS[kind]
    backbone = make(seed=0)
    base = _sequence(backbone(inputs))
    keras_adapters.add_adapter(backbone, config, "a", verbose=False)
    np.testing.assert_allclose(_sequence(backbone(inputs)), base, atol=1e-5)
    reference = make(seed=0)
    randomize_adapters(backbone)
    for block, base_block in zip(backbone.transformer_layers, reference.transformer_layers):
        for attribute, kernel_axes, in_axes, out_axes in sites.values():
            wrapper, layer = _get(block, attribute), _get(base_block, attribute)
            assert isinstance(wrapper, DoraDense if kernel_axes == "io" else DoraEinsumDense)
            module = wrapper.get_adapter("a")
            assert module.magnitude_shape == tuple(
                layer.kernel.shape[kernel_axes.index(c)] for c in out_axes
            )
            kernel, _ = _numpy_decomposed(
                layer.kernel.numpy(), module, kernel_axes, in_axes, out_axes
            )
            layer.kernel.assign(kernel)
    got = _sequence(backbone(inputs))
    assert np.abs(got - base).max() > 1e-3
    np.testing.assert_allclose(got, _sequence(reference(inputs)), atol=2e-5)


def test_magnitude_starts_at_the_column_norms():
    backbone = make_decoder()
    keras_adapters.add_adapter(backbone, MODELS["llama3"][3], "a", verbose=False)
    wrapper = backbone.transformer_layers[1]._self_attention_layer._output_dense
    kernel = wrapper.kernel.numpy()  # [heads, head_dim, hidden]: norm over heads and head dim
    np.testing.assert_allclose(
        wrapper.get_adapter("a").magnitude, np.sqrt((kernel**2).sum(axis=(0, 1))), rtol=1e-6
    )


def test_merge_on_llama3_equals_unmerged_and_unmerge_restores(tmp_path):
    backbone = make_decoder()
    keras_adapters.add_adapter(backbone, MODELS["llama3"][3], "a", verbose=False)
    randomize_adapters(backbone)
    x = make_decoder_inputs()
    unmerged, before = np.array(backbone(x)), weights_by_path(backbone)
    keras_adapters.merge_adapters(backbone)
    changed = {p for p, w in weights_by_path(backbone).items() if not np.array_equal(w, before[p])}
    assert {p.rsplit("/", 1)[1] for p in changed} == {"kernel", "merge_norm"}
    assert len(changed) == 2 * 7 * 2
    np.testing.assert_allclose(backbone(x), unmerged, atol=2e-5)
    # The merged model round-trips through .keras, and unmerges there.
    backbone.save(tmp_path / "merged.keras")
    restored = keras.models.load_model(tmp_path / "merged.keras")
    assert keras_adapters.list_adapters(restored)["a"]["merged"] is True
    np.testing.assert_allclose(restored(x), unmerged, atol=2e-5)
    for model in (backbone, restored):
        keras_adapters.unmerge_adapters(model)
        for path, value in weights_by_path(model).items():
            if not path.endswith("merge_norm"):
                np.testing.assert_allclose(value, before[path], atol=1e-6, err_msg=path)
        np.testing.assert_allclose(model(x), unmerged, atol=2e-5)


def test_gpt_neo_x_has_no_query_or_value_slot():
    backbone = make_decoder("gpt_neo_x")
    before = _structure(backbone)
    with pytest.raises(
        ValueError,
        match=r"`targets` names the slots \['query', 'value'\], which the GPTNeoXBackbone spec "
        r"does not define.*Received: targets=\['query', 'value'\]",
    ):
        keras_adapters.add_adapter(backbone, keras_adapters.DoraConfig(), "a", verbose=False)
    _assert_unchanged(backbone, before)
    keras_adapters.add_adapter(
        backbone, keras_adapters.DoraConfig(rank=2, targets=["query_key_value"]), "a", verbose=False
    )  # its fused projection is an EinsumDense DoRA adapts


@pytest.mark.parametrize(
    "first, config, message",
    [
        (
            None,
            keras_adapters.DoraConfig(targets=r".*layer_norm"),
            r"DoRA supports keras.layers.EinsumDense, keras.layers.Dense. Layer "
            r"'transformer_layer_0/self_attention_layer_norm' is a LayerNormalization",
        ),
        (
            keras_adapters.LoraConfig(rank=2),
            keras_adapters.DoraConfig(targets=["query", "key"]),
            r"DoRA cannot adapt 'transformer_layer_0/self_attention_layer/query': it is already "
            "wrapped by LoraEinsumDense",
        ),
        (
            keras_adapters.IA3Config(),
            keras_adapters.DoraConfig(targets=["ffn_output"]),
            r"DoRA cannot adapt 'transformer_layer_0/feedforward_output_dense': it is already "
            "wrapped by IA3Dense",
        ),
        (None, keras_adapters.DoraConfig(targets=["nothing_here"]), "matched no adapter-capable"),
    ],
    ids=["layer_norm", "under_lora", "under_ia3", "no_match"],
)
def test_bad_input_is_refused_before_the_model_changes(first, config, message):
    backbone = make_backbone()
    if first is not None:
        keras_adapters.add_adapter(backbone, first, "first", verbose=False)
    before = _structure(backbone)
    with pytest.raises(ValueError, match=message):
        keras_adapters.add_adapter(backbone, config, "dora", verbose=False)
    _assert_unchanged(backbone, before)


def test_deleting_the_adapters_leaves_the_base_model():
    backbone = make_backbone()
    x = make_inputs()
    before = _structure(backbone)
    for name in ("a", "b"):
        keras_adapters.add_adapter(backbone, keras_adapters.DoraConfig(rank=2), name, verbose=False)
    keras_adapters.delete_adapter(backbone, "a")
    assert len([v for v in backbone.weights if v.path.endswith("/b/merge_norm")]) == 4
    assert not [v for v in backbone.weights if "/a/" in v.path]
    keras_adapters.delete_adapter(backbone, "b")
    _assert_unchanged(backbone, before)
    assert all(v.trainable for v in backbone.weights)
    backbone(x)
