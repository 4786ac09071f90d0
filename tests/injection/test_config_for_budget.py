"""`config_for_budget`: the largest adapter of a method within a parameter budget, counted exactly."""

import pytest

import keras_adapters
from tests.support.tiny_models import TINY, make_backbone

D, LAYERS = TINY["hidden_dim"], TINY["num_layers"]


@pytest.mark.parametrize(
    "config, per_unit, fixed",
    [
        (keras_adapters.LoraConfig(targets=["query", "value"]), LAYERS * 2 * 2 * D, 0),
        (keras_adapters.HoulsbyConfig(), LAYERS * 2 * (2 * D + 1), LAYERS * 2 * D),
        (keras_adapters.PrefixConfig(), LAYERS * 2 * D, 0),
    ],
    ids=["lora", "houlsby", "prefix"],
)
def test_size_is_the_largest_within_budget_and_counted_exactly(config, per_unit, fixed):
    backbone = make_backbone("bert")
    budget = fixed + 3 * per_unit + per_unit // 2
    resized, count = keras_adapters.config_for_budget(backbone, config, budget)
    assert count == fixed + 3 * per_unit <= budget
    report = keras_adapters.add_adapter(backbone, resized, "a", verbose=False)
    assert report.adapters["a"][1] == count
    assert keras_adapters.list_adapters(backbone)  # the probe left no adapter behind
    assert list(keras_adapters.list_adapters(backbone)) == ["a"]


def test_budget_errors():
    backbone = make_backbone("bert")
    with pytest.raises(ValueError, match="Received: budget=0"):
        keras_adapters.config_for_budget(backbone, keras_adapters.LoraConfig(), 0)
    with pytest.raises(ValueError, match="more than the budget"):
        keras_adapters.config_for_budget(backbone, keras_adapters.LoraConfig(), 10)
    with pytest.raises(ValueError, match="size knob"):
        keras_adapters.config_for_budget(backbone, keras_adapters.IA3Config(), 1000)
