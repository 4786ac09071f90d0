"""`AdaLoraConfig`: defaults, clear errors for bad values and schedules, round trips."""

import pytest

import keras_adapters
from keras_adapters.injection.adapter_state import get_state
from tests.support.tiny_models import make_classifier, weights_by_path


def test_defaults_follow_peft_and_the_paper():
    config = keras_adapters.AdaLoraConfig(total_steps=100)
    assert (config.init_rank, config.target_rank) == (12, 8)
    assert (config.beta1, config.beta2, config.orthogonality) == (0.85, 0.85, 0.5)
    assert (config.warmup_steps, config.final_steps, config.reallocation_interval) == (0, 0, 1)
    assert config.targets == "all-linear" and config.scale == 1.0
    config = keras_adapters.AdaLoraConfig(init_rank=4, target_rank=2, alpha=8, total_steps=10)
    assert config.scale == 2.0


def test_round_trips_through_its_dict():
    config = keras_adapters.AdaLoraConfig(
        init_rank=6, target_rank=2, total_steps=50, warmup_steps=5, targets=["query", "value"]
    )
    assert keras_adapters.configs.config_from_dict(config.get_config()) == config
    assert config.get_config()["method"] == "adalora"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({}, "`total_steps` is required"),
        ({"total_steps": 0}, "`total_steps` must be a positive integer. Received: total_steps=0"),
        ({"init_rank": 0}, "Received: init_rank=0"),
        ({"target_rank": 0}, "Received: target_rank=0"),
        ({"init_rank": 4, "target_rank": 6}, "`target_rank` must be at most `init_rank`"),
        ({"warmup_steps": -1}, "`warmup_steps` must be an integer >= 0"),
        ({"final_steps": 1.5}, "Received: final_steps=1.5"),
        (
            {"warmup_steps": 60, "final_steps": 40},
            "`warmup_steps \\+ final_steps` must be less than `total_steps`.*"
            "warmup_steps=60, final_steps=40, total_steps=100",
        ),
        ({"reallocation_interval": 0}, "Received: reallocation_interval=0"),
        ({"beta1": 1.0}, "`beta1` must be a number in \\[0, 1\\). Received: beta1=1.0"),
        ({"beta2": -0.1}, "Received: beta2=-0.1"),
        ({"orthogonality": -1}, "`orthogonality` must be a number >= 0"),
        ({"alpha": 0}, "Received: alpha=0"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
        ({"targets": []}, "`targets` must be a regex string"),
        ({"layers": "0"}, "`layers` must be None"),
    ],
)
def test_bad_values_raise_clear_errors(fields, message):
    if fields and "total_steps" not in fields:  # `{}` checks that total_steps is required
        fields = {"total_steps": 100, **fields}
    with pytest.raises(ValueError, match=message):
        keras_adapters.AdaLoraConfig(**fields)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"targets": ["nothing_here"]}, "`targets` matched no adapter-capable layer"),
        ({"targets": ["attention_norm"]}, "AdaLoRA supports keras.layers.EinsumDense"),
        ({"layers": [5]}, "`layers` must hold block indices in \\[-2, 1\\]"),
        ({"modules_to_save": ["no_such_head"]}, "`modules_to_save` matched no"),
    ],
)
def test_bad_placements_raise_before_the_model_changes(fields, message):
    classifier = make_classifier()
    before = weights_by_path(classifier)
    config = keras_adapters.AdaLoraConfig(total_steps=10, init_rank=2, target_rank=1, **fields)
    with pytest.raises(ValueError, match=message):
        keras_adapters.add_adapter(classifier, config, "a", verbose=False)
    assert get_state(classifier) is None
    assert weights_by_path(classifier).keys() == before.keys()
    assert not isinstance(classifier, keras_adapters.AdaptedModel)
