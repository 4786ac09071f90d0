import pytest

import keras_adapters
from keras_adapters import configs, methods


def test_shares_loras_hyperparameters_not_its_identity():
    config = keras_adapters.DoraConfig(rank=4, alpha=8, dropout=0.1, use_rslora=True)
    assert config.method == "dora" and config.scale == 4.0  # 8 / sqrt(4)
    assert isinstance(config, configs.LowRankConfig)
    assert not isinstance(config, keras_adapters.LoraConfig)
    assert methods.method_for(config).name == "dora"
    assert configs.config_from_dict(config.get_config()) == config
    lora = keras_adapters.LoraConfig(rank=4, alpha=8, dropout=0.1, use_rslora=True)
    assert {**config.get_config(), "method": "lora"} == lora.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rank": 0}, "`rank` must be a positive integer. Received: rank=0"),
        ({"alpha": -1}, r"`alpha` must be a finite number > 0. Received: alpha=-1"),
        ({"dropout": 1.0}, r"`dropout` must be a float in \[0, 1\). Received: dropout=1.0"),
        ({"use_rslora": "yes"}, "`use_rslora` must be a bool. Received: use_rslora='yes'"),
        ({"targets": None}, "Received: targets=None"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_adapters.DoraConfig(**kwargs)
