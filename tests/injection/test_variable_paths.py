"""Variable paths are unique, stable and name the adapter, for every method."""

import collections

import pytest

import keras_adapters
from tests.support.tiny_models import make_classifier

CONFIGS = {
    "lora": keras_adapters.LoraConfig(rank=2, targets="all-linear"),
    "dora": keras_adapters.DoraConfig(rank=2, targets="all-linear"),
    "ia3": keras_adapters.IA3Config(),
    "pfeiffer": keras_adapters.PfeifferConfig(bottleneck_dim=2),
    "houlsby": keras_adapters.HoulsbyConfig(bottleneck_dim=2),
    "parallel": keras_adapters.ParallelConfig(bottleneck_dim=2),
    "prefix": keras_adapters.PrefixConfig(num_prefix_tokens=2, reparameterize=True),
    "adalora": keras_adapters.AdaLoraConfig(init_rank=2, target_rank=1, total_steps=10),
    "mam": keras_adapters.MamConfig(num_prefix_tokens=2, bottleneck_dim=2),
}


def _adapter_paths(model, name):
    return sorted(
        v.path for v in model.weights if f"/{name}/" in v.path and v.path.split("/")[-2] == name
    )


@pytest.mark.parametrize("method", list(CONFIGS))
def test_two_adapters_of_one_method_have_distinct_paths(method):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS[method], "first", verbose=False)
    keras_adapters.add_adapter(classifier, CONFIGS[method], "second", verbose=False)
    paths = [v.path for v in classifier.weights]
    assert [p for p, n in collections.Counter(paths).items() if n > 1] == []
    classifier.get_state_tree()  # raised "variable path is found twice" before
    first, second = _adapter_paths(classifier, "first"), _adapter_paths(classifier, "second")
    assert first and len(first) == len(second)
    assert all(f"/{method}/first/" in p for p in first)
    assert [p.replace("/first/", "/second/") for p in first] == second


@pytest.mark.parametrize("method", list(CONFIGS))
def test_paths_are_the_same_every_time_an_adapter_is_added(method):
    paths = []
    for _ in range(2):
        classifier = make_classifier()
        keras_adapters.add_adapter(classifier, CONFIGS[method], "task", verbose=False)
        paths.append(_adapter_paths(classifier, "task"))
        keras_adapters.delete_adapter(classifier, "task")
        keras_adapters.add_adapter(classifier, CONFIGS[method], "task", verbose=False)
        assert _adapter_paths(classifier, "task") == paths[-1]
    assert paths[0] == paths[1]


def test_folded_prefix_keeps_its_adapter_path():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIGS["prefix"], "p", verbose=False)
    keras_adapters.eject_prefix(classifier, "p")
    paths = _adapter_paths(classifier, "p")
    assert paths and all(
        p.endswith(("prefix/p/prefix_keys", "prefix/p/prefix_values")) for p in paths
    )
