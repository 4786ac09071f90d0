"""The method registry: one record per method, the single way configs become layers."""

import dataclasses

import pytest

import keras_adapters
from keras_adapters import methods


def test_every_builtin_method_is_registered_with_its_config():
    assert methods.registered_methods() == (
        "lora",
        "adalora",
        "pfeiffer",
        "houlsby",
        "parallel",
        "dora",
        "fusion",
        "ia3",
        "prefix",
        "mam",
        "prompt",
    )
    for config in (
        keras_adapters.LoraConfig(),
        keras_adapters.DoraConfig(),
        keras_adapters.IA3Config(),
        keras_adapters.HoulsbyConfig(),
        keras_adapters.PrefixConfig(),
        keras_adapters.PromptConfig(),
    ):
        assert methods.method_for(config).config_class is type(config)


def test_method_for_refuses_anything_else():
    with pytest.raises(ValueError, match="`config` must be a method config .*LoraConfig"):
        methods.method_for("lora")
    with pytest.raises(ValueError, match="`config` must be a method config"):
        methods.method_for(keras_adapters.AdapterConfig())


def test_config_from_dict_names_the_valid_methods():
    with pytest.raises(ValueError, match="Unknown adapter method 'vera'. Valid methods: .*dora"):
        methods.config_from_dict({"method": "vera"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Unnamed(keras_adapters.AdapterConfig):
    pass


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"config_class": dict},
            "`config_class` must be a subclass of keras_adapters.AdapterConfig",
        ),
        ({"config_class": _Unnamed}, "must be a Python identifier naming the method"),
        ({"find_sites": "nope"}, "`find_sites` must be a function"),
    ],
)
def test_bad_records_are_refused(fields, message):
    base = dict(config_class=keras_adapters.LoraConfig, find_sites=len, build_module=len)
    with pytest.raises(ValueError, match=message):
        methods.AdapterMethod(**{**base, **fields})


def test_a_method_name_is_registered_once():
    record = methods.method_for(keras_adapters.LoraConfig())
    with pytest.raises(ValueError, match="'lora' is already registered"):
        methods.register_method(record)
