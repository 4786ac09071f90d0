"""`combine_lora_adapters`: weighted combinations of LoRA adapters, exact or by SVD."""

import numpy as np
import pytest

import keras_adapters
from tests.support.tiny_models import make_backbone, make_inputs, randomize_adapters


def _model():
    backbone = make_backbone("bert")
    keras_adapters.add_adapter(
        backbone,
        keras_adapters.LoraConfig(rank=2, alpha=4, targets=["query", "value"]),
        "a",
        verbose=False,
    )
    keras_adapters.add_adapter(
        backbone,
        keras_adapters.LoraConfig(rank=3, targets=["value", "ffn_output"]),
        "b",
        verbose=False,
    )
    randomize_adapters(backbone)
    return backbone


def _sequence(model, x):
    return np.asarray(model(x)["sequence_output"])


def _deltas(model, names_and_weights):
    """{site: Σ w * scale * A B} as [inputs, outputs] matrices, in NumPy."""
    deltas = {}
    for layer in model._flatten_layers():
        for name, weight in names_and_weights:
            if hasattr(layer, "lora_shapes") and name in layer.adapter_names:
                m = layer.get_adapter(name)
                a = m.lora_a.numpy().reshape(-1, m.rank)
                b = m.lora_b.numpy().reshape(m.rank, -1)
                deltas[layer.location] = deltas.get(layer.location, 0) + weight * m.scale * a @ b
    return deltas


def test_linear_is_exact_and_equals_both_sources_active():
    model, x = _model(), make_inputs("bert")
    keras_adapters.set_active_adapters(model, ["a", "b"])
    both = _sequence(model, x)
    keras_adapters.combine_lora_adapters(model, ["a", "b"], [1.0, 1.0], "ab")
    keras_adapters.set_active_adapters(model, "ab")
    np.testing.assert_allclose(_sequence(model, x), both, atol=1e-5)
    assert keras_adapters.list_adapters(model)["ab"]["method"] == "lora"


@pytest.mark.parametrize("rank", [5, 1])
def test_svd_is_the_best_rank_r_approximation(rank):
    model = _model()
    weights = [0.5, -2.0]
    expected = _deltas(model, list(zip(["a", "b"], weights)))
    keras_adapters.combine_lora_adapters(
        model, ["a", "b"], weights, "svd", combination="svd", rank=rank
    )
    got = _deltas(model, [("svd", 1.0)])
    assert set(got) == set(expected)
    for site, delta in expected.items():
        singular = np.linalg.svd(delta, compute_uv=False)
        error = np.linalg.norm(got[site] - delta)
        assert error == pytest.approx(np.sqrt(np.sum(singular[rank:] ** 2)), abs=1e-4)


@pytest.mark.parametrize(
    "names, weights, kwargs, message",
    [
        (
            ["a", "nope"],
            [1, 1],
            {},
            r"must name LoRA adapters .*Received: adapter_names=\['a', 'nope'\]",
        ),
        (["a", "b"], [1], {}, "one number per adapter"),
        (["a"], [1], {"combination": "ties"}, "Received: combination='ties'"),
        (["a"], [1], {"combination": "svd", "rank": 0}, "Received: rank=0"),
    ],
)
def test_bad_input_is_refused_before_any_change(names, weights, kwargs, message):
    model = _model()
    before = [v.path for v in model.weights]
    with pytest.raises(ValueError, match=message):
        keras_adapters.combine_lora_adapters(model, names, weights, "new", **kwargs)
    assert [v.path for v in model.weights] == before
