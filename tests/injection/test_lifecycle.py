"""Several named adapters: switch, disable, delete, merge, unmerge, eject."""

import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import AdapterWrapper
from tests.support.tiny_models import (
    make_classifier,
    make_inputs,
    randomize_adapters,
    weights_by_path,
)

LORA = keras_adapters.LoraConfig(rank=2, alpha=4, targets=["query", "value", "ffn_output"])
HOULSBY = keras_adapters.HoulsbyConfig(bottleneck_dim=2)


def _setup():
    classifier = make_classifier()
    x = make_inputs()
    base = np.array(classifier(x))
    keras_adapters.add_adapter(classifier, LORA, "lora", verbose=False)
    keras_adapters.add_adapter(classifier, HOULSBY, "houlsby", verbose=False)
    randomize_adapters(classifier)
    return classifier, x, base


def _out(model, x):
    return np.array(model(x))


def test_only_the_active_adapter_changes_outputs_and_trains():
    classifier, x, base = _setup()
    assert keras_adapters.list_adapters(classifier)["houlsby"]["active"]
    with_houlsby = _out(classifier, x)
    keras_adapters.set_active_adapters(classifier, "lora")
    with_lora = _out(classifier, x)
    assert not np.allclose(with_lora, with_houlsby) and not np.allclose(with_lora, base)
    trainable = {v.path for v in classifier.trainable_weights}
    assert trainable and all("/lora/" in p for p in trainable)


def test_hybrid_equals_sum_of_structure():
    classifier, x, _ = _setup()
    keras_adapters.set_active_adapters(classifier, ["lora", "houlsby"])
    both = _out(classifier, x)
    keras_adapters.set_active_adapters(classifier, "lora")
    assert not np.allclose(both, _out(classifier, x))
    trainable = {v.path for v in classifier.trainable_weights}
    keras_adapters.set_active_adapters(classifier, ["lora", "houlsby"])
    assert {v.path for v in classifier.trainable_weights} > trainable


def test_disable_gives_the_base_model_exactly():
    classifier, x, base = _setup()
    keras_adapters.set_active_adapters(classifier, ["lora", "houlsby"])
    keras_adapters.disable_adapters(classifier)
    np.testing.assert_array_equal(_out(classifier, x), base)
    assert classifier.trainable_weights == []
    keras_adapters.enable_adapters(classifier)
    assert not np.allclose(_out(classifier, x), base)


def test_delete_restores_the_original_model():
    classifier, x, base = _setup()
    original_class = type(classifier).__mro__[2]
    keras_adapters.delete_adapter(classifier, "houlsby")
    assert list(keras_adapters.list_adapters(classifier)) == ["lora"]
    assert not any("houlsby" in v.path for v in classifier.weights)
    keras_adapters.delete_adapter(classifier, "lora")
    assert type(classifier) is original_class
    assert not any(isinstance(layer, AdapterWrapper) for layer in classifier._flatten_layers())
    np.testing.assert_array_equal(_out(classifier, x), base)
    assert len(classifier.trainable_weights) == len(classifier.weights)


def test_merge_equals_unmerged_and_unmerge_is_exact():
    classifier, x, _ = _setup()
    keras_adapters.set_active_adapters(classifier, ["lora", "houlsby"])
    before_weights = weights_by_path(classifier)
    unmerged = _out(classifier, x)
    keras_adapters.merge_adapters(classifier)
    assert keras_adapters.list_adapters(classifier)["lora"]["merged"]
    np.testing.assert_allclose(_out(classifier, x), unmerged, atol=1e-5)
    changed = [
        p for p, w in weights_by_path(classifier).items() if not np.allclose(w, before_weights[p])
    ]
    assert changed and all(p.endswith("kernel") and "lora" not in p for p in changed)
    keras_adapters.unmerge_adapters(classifier)
    for path, value in weights_by_path(classifier).items():
        np.testing.assert_allclose(value, before_weights[path], atol=1e-5)
    np.testing.assert_allclose(_out(classifier, x), unmerged, atol=1e-5)


def test_merged_state_guards_switching_and_disabling():
    classifier, _, _ = _setup()
    keras_adapters.set_active_adapters(classifier, "lora")
    keras_adapters.merge_adapters(classifier)
    for action in (
        lambda: keras_adapters.set_active_adapters(classifier, "houlsby"),
        keras_adapters.disable_adapters,
        lambda: keras_adapters.delete_adapter(classifier, "lora"),
    ):
        with pytest.raises(ValueError, match="unmerge_adapters"):
            action(classifier) if action is keras_adapters.disable_adapters else action()
    keras_adapters.unmerge_adapters(classifier)
    keras_adapters.disable_adapters(classifier)
    with pytest.raises(ValueError, match="Adapters are disabled"):
        keras_adapters.merge_adapters(classifier)


def test_unknown_names_are_rejected():
    classifier, _, _ = _setup()
    with pytest.raises(ValueError, match=r"Received: adapter_names=\['nope'\]"):
        keras_adapters.set_active_adapters(classifier, "nope")
    with pytest.raises(ValueError, match=r"Received: adapter_name=\['nope'\]"):
        keras_adapters.delete_adapter(classifier, "nope")
    with pytest.raises(ValueError, match="has no adapters"):
        keras_adapters.merge_adapters(make_classifier())


def test_eject_prefix_keeps_outputs_and_drops_the_mlp():
    classifier = make_classifier()
    x = make_inputs()
    config = keras_adapters.PrefixConfig(num_prefix_tokens=2, reparameterize=True, projection_dim=4)
    keras_adapters.add_adapter(classifier, config, "p", verbose=False)
    randomize_adapters(classifier)
    before = _out(classifier, x)
    keras_adapters.eject_prefix(classifier, "p")
    np.testing.assert_allclose(_out(classifier, x), before, atol=1e-5)
    prefix_weights = sorted(v.name for v in classifier.trainable_weights)
    assert prefix_weights == ["prefix_keys"] * 2 + ["prefix_values"] * 2
    assert keras_adapters.trainable_report(classifier).adapters["p"][1] == 2 * 2 * 2 * 8
    with pytest.raises(ValueError, match="reparameterize=True"):
        keras_adapters.eject_prefix(classifier, "p")
