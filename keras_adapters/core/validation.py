"""Argument checks shared by every method config and layer.

Every check raises a `ValueError` in the Keras style: what is wrong, the value
received, and what would be valid. Checks run in constructors, before any
model state is touched.
"""

import math
import numbers
import random
import re

import keras

ACTIVATIONS = ("relu", "gelu", "gelu_approximate", "swish", "silu", "tanh", "sigmoid", "linear")


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_optional_positive_int(name, value):
    return None if value is None else check_positive_int(name, value)


def check_positive_number(name, value):
    """A finite number > 0, as a float (infinity would turn a zero update into NaN)."""
    number = math.nan
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            number = math.inf
    if not 0 < number < math.inf:
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r:.80}")
    return number


def check_non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def check_non_negative_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")
    return float(value)


def check_unit_interval(name, value):
    """A number in [0, 1), e.g. a smoothing factor."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_dropout(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return value


def check_activation(name, value):
    if value not in ACTIVATIONS:
        raise ValueError(
            f"`{name}` must be one of {', '.join(ACTIVATIONS)}. Received: {name}={value!r}"
        )
    return value


def check_initializer(name, value):
    """The name of a built-in Keras initializer (a string, as configs are JSON).

    A dict would be deserialized by Keras, which may import the module it
    names; configs come from files, so only names are accepted.
    """
    if isinstance(value, str) and value:
        state = random.getstate()  # an unseeded Keras initializer draws its seed from `random`
        try:
            keras.initializers.get(value)
        except (ValueError, TypeError):
            pass
        else:
            return value
        finally:
            random.setstate(state)
    raise ValueError(
        f"`{name}` must be the name of a Keras initializer, e.g. 'he_uniform', "
        f"'glorot_uniform', 'zeros'. Received: {name}={value!r:.80}"
    )


def check_adapter_name(value):
    """Adapter names key attributes and file entries, so they must be identifiers."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(
            "`adapter_name` must be a non-empty Python identifier (letters, digits and "
            f"underscores, not starting with a digit). Received: adapter_name={value!r}"
        )
    return value


def check_patterns(name, value, allow_none=True):
    """A target pattern: one regex string, or a list/tuple of exact names or suffixes."""
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        if not value:
            raise ValueError(f"`{name}` must not be an empty string. Received: {name}={value!r}")
        try:
            re.compile(value)
        except (re.error, OverflowError, RecursionError) as error:
            raise ValueError(
                f"`{name}` is a string, so a regex (full match on `layer.path`), but it does not "
                f"compile: {error}. Received: {name}={value!r:.80}"
            ) from None
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(
        f"`{name}` must be a regex string (full match on `layer.path`) or a non-empty list of "
        f"slot names / paths / path suffixes. Received: {name}={value!r}"
    )


def check_layer_indices(value):
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),)
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        return tuple(int(v) for v in value)
    raise ValueError(
        "`layers` must be None (all blocks), a block index, or a non-empty list of block "
        f"indices. Received: layers={value!r}"
    )
