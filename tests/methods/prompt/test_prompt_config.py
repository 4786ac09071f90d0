"""`PromptConfig` validation: every bad value is refused with the value received."""

import pytest

import keras_adapters


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_virtual_tokens=0), "Received: num_virtual_tokens=0"),
        (dict(num_virtual_tokens=-3), "Received: num_virtual_tokens=-3"),
        (dict(num_virtual_tokens=2.5), "Received: num_virtual_tokens=2.5"),
        (dict(init_text=""), "Received: init_text=''"),
        (dict(init_text=3), "Received: init_text=3"),
        (dict(init_token_ids=[1, 2, 3], num_virtual_tokens=2), r"init_token_ids=\[1, 2, 3\]"),
        (dict(init_token_ids=[]), r"init_token_ids=\[\]"),
        (dict(init_token_ids=[1, -1]), r"init_token_ids=\[1, -1\]"),
        (dict(init_token_ids="abc"), "init_token_ids='abc'"),
        (dict(init_text="a", init_token_ids=[1]), "not both"),
        (dict(layers=[0]), r"Received: layers=\[0\]"),
    ],
)
def test_bad_values_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_adapters.PromptConfig(**kwargs)


def test_config_round_trips_through_a_dict():
    config = keras_adapters.PromptConfig(num_virtual_tokens=4, init_token_ids=[5, 6])
    assert config.init_token_ids == (5, 6)
    again = keras_adapters.configs.config_from_dict(config.get_config())
    assert again == config and again.get_config()["method"] == "prompt"
