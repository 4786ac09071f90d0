import pytest

import keras_adapters
from keras_adapters import configs


def test_defaults_follow_peft():
    config = keras_adapters.IA3Config()
    assert config.method == "ia3"
    assert config.targets == ("key", "value", "ffn_output")
    assert config.feedforward == ("ffn_output",)
    assert config.exclude is None and config.layers is None


@pytest.mark.parametrize("feedforward", [None, (), []])
def test_no_feedforward_targets(feedforward):
    assert keras_adapters.IA3Config(feedforward=feedforward).feedforward == ()


def test_round_trips_through_its_dict():
    config = keras_adapters.IA3Config(
        targets=r".*(key|value|dense)", feedforward=r".*output_dense", layers=[0], exclude=["x"]
    )
    assert configs.config_from_dict(config.get_config()) == config
    plain = keras_adapters.IA3Config(feedforward=())
    assert plain.get_config()["feedforward"] == []
    assert configs.config_from_dict(plain.get_config()) == plain


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"targets": ["key"]},
            r"`feedforward` must be a subset of `targets`; \['ffn_output'\] are not targets.*"
            r"Received: feedforward=\['ffn_output'\], targets=\['key'\]",
        ),
        ({"targets": []}, r"`targets` must be a regex string .* Received: targets=\[\]"),
        ({"feedforward": [3]}, r"Received: feedforward=\[3\]"),
        ({"exclude": ""}, r"`exclude` must not be an empty string"),
        ({"layers": "all"}, r"Received: layers='all'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_adapters.IA3Config(**kwargs)
