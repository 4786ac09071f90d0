"""Properties of every method config: valid and JSON round-trippable, or one `ValueError`.

Hypothesis draws keyword arguments (plausible values mixed with wrong types,
non-finite numbers and out-of-range values) for every registered method, and
arbitrary dicts for `config_from_dict` (what a saved file may hold).
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_adapters.configs import config_from_dict, registered_methods
from tests.support.config_strategies import FIELD_VALUES, config_class, config_kwargs, methods

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
config_dicts = st.fixed_dictionaries(
    {"method": st.one_of(st.sampled_from(registered_methods()), json_values)},
    optional={name: st.one_of(FIELD_VALUES[name], json_values) for name in FIELD_VALUES}
    | {"unknown_field": json_values},
)


def _check_config_or_value_error(build):
    try:
        config = build()
    except ValueError as error:
        assert str(error)
        return None
    text = json.dumps(config.get_config(), allow_nan=False)  # JSON, finite numbers only
    assert config_from_dict(json.loads(text)) == config
    return config


def _config_from_kwargs(data):
    method = data.draw(methods, label="method")
    kwargs = data.draw(config_kwargs(method, wild=True), label="kwargs")
    config = _check_config_or_value_error(lambda: config_class(method)(**kwargs))
    if config is not None:
        assert config.method == method


def _config_from_dict(config):
    _check_config_or_value_error(lambda: config_from_dict(config))


@FAST
@given(st.data())
def test_config_from_keywords_is_valid_or_a_value_error(data):
    _config_from_kwargs(data)


@FAST
@given(config_dicts)
def test_config_from_any_dict_is_valid_or_a_value_error(config):
    _config_from_dict(config)


@pytest.mark.slow
@MANY
@given(st.data())
def test_config_from_keywords_many_examples(data):
    _config_from_kwargs(data)


@pytest.mark.slow
@MANY
@given(config_dicts)
def test_config_from_any_dict_many_examples(config):
    _config_from_dict(config)
