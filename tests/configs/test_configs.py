import random

import pytest

import keras_adapters
from keras_adapters.configs import config_from_dict

ALL_CONFIGS = [
    keras_adapters.LoraConfig(rank=4, alpha=8, dropout=0.1, use_rslora=True, targets=["query"]),
    keras_adapters.DoraConfig(rank=4, alpha=8, dropout=0.1, use_rslora=True, targets="all-linear"),
    keras_adapters.IA3Config(targets=["key", "ffn_output"], feedforward=["ffn_output"]),
    keras_adapters.PfeifferConfig(bottleneck_dim=4, layers=[0]),
    keras_adapters.HoulsbyConfig(reduction_factor=2, layer_norm=True),
    keras_adapters.ParallelConfig(activation="tanh", modules_to_save=["logits"]),
    keras_adapters.PrefixConfig(num_prefix_tokens=3, reparameterize=True, projection_dim=16),
]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda c: c.method)
def test_round_trip_through_dict(config):
    assert config_from_dict(config.get_config()) == config


def test_defaults_follow_the_papers():
    assert keras_adapters.PfeifferConfig().activation == "relu"
    assert keras_adapters.HoulsbyConfig().activation == "swish"
    assert keras_adapters.ParallelConfig().scaling == 4.0
    assert keras_adapters.PfeifferConfig().reduction_factor == 16


@pytest.mark.parametrize(
    "rank, alpha, rslora, expected",
    [(8, None, False, 1.0), (8, 16, False, 2.0), (16, 8, True, 2.0), (4, 1, True, 0.5)],
)
def test_lora_scale(rank, alpha, rslora, expected):
    assert keras_adapters.LoraConfig(rank=rank, alpha=alpha, use_rslora=rslora).scale == expected


@pytest.mark.parametrize(
    "cls, kwargs, argument",
    [
        (keras_adapters.LoraConfig, {"rank": 0}, "rank=0"),
        (keras_adapters.LoraConfig, {"rank": -3}, "rank=-3"),
        (keras_adapters.LoraConfig, {"rank": 2.5}, "rank=2.5"),
        (keras_adapters.LoraConfig, {"dropout": 1.0}, "dropout=1.0"),
        (keras_adapters.LoraConfig, {"dropout": -0.1}, "dropout=-0.1"),
        (keras_adapters.LoraConfig, {"alpha": 0}, "alpha=0"),
        (keras_adapters.LoraConfig, {"alpha": float("inf")}, "alpha=inf"),
        (keras_adapters.HoulsbyConfig, {"scaling": float("inf")}, "scaling=inf"),
        (keras_adapters.LoraConfig, {"targets": []}, "targets=[]"),
        (keras_adapters.LoraConfig, {"targets": "(query"}, "targets='(query'"),
        (keras_adapters.IA3Config, {"modules_to_save": "a{2,1}"}, "modules_to_save='a{2,1}'"),
        (keras_adapters.LoraConfig, {"layers": "all"}, "layers='all'"),
        (keras_adapters.DoraConfig, {"rank": 0}, "rank=0"),
        (keras_adapters.LoraConfig, {"a_initializer": "nope"}, "a_initializer='nope'"),
        (
            keras_adapters.DoraConfig,
            {"a_initializer": {"class_name": "Zeros", "config": {}}},
            "a_initializer={'class_name'",
        ),
        (keras_adapters.IA3Config, {"feedforward": ""}, "feedforward=''"),
        (keras_adapters.HoulsbyConfig, {"activation": "softplus"}, "activation='softplus'"),
        (keras_adapters.PfeifferConfig, {"bottleneck_dim": 0}, "bottleneck_dim=0"),
        (keras_adapters.PfeifferConfig, {"reduction_factor": 0}, "reduction_factor=0"),
        (keras_adapters.ParallelConfig, {"dropout": 2}, "dropout=2"),
        (keras_adapters.PrefixConfig, {"num_prefix_tokens": 0}, "num_prefix_tokens=0"),
    ],
)
def test_bad_hyperparameters_name_argument_and_value(cls, kwargs, argument):
    with pytest.raises(ValueError, match="Received: " + __import__("re").escape(argument)):
        cls(**kwargs)


def test_bottleneck_width_checked_against_hidden_size():
    assert keras_adapters.PfeifferConfig(reduction_factor=4).resolve_bottleneck_dim(32) == 8
    with pytest.raises(ValueError, match="must divide the hidden size 30"):
        keras_adapters.PfeifferConfig(reduction_factor=16).resolve_bottleneck_dim(30)
    with pytest.raises(ValueError, match="at most the hidden size 8. Received: bottleneck_dim=9"):
        keras_adapters.PfeifferConfig(bottleneck_dim=9).resolve_bottleneck_dim(8)


def test_unknown_method_and_fields():
    with pytest.raises(ValueError, match="Unknown adapter method 'loha'"):
        config_from_dict({"method": "loha"})
    with pytest.raises(ValueError, match=r"Unknown adapter method \[\]"):  # unhashable
        config_from_dict({"method": []})
    with pytest.raises(ValueError, match="Unknown fields for LoraConfig: \\['rnak'\\]"):
        config_from_dict({"method": "lora", "rnak": 4})


def test_configs_are_keyword_only():
    with pytest.raises(TypeError):
        keras_adapters.LoraConfig(8)


def test_building_a_config_leaves_the_random_state_alone():
    # Checking `a_initializer` builds a Keras initializer, which seeds itself from `random`.
    state = random.getstate()
    keras_adapters.LoraConfig(a_initializer="he_uniform")
    assert random.getstate() == state
