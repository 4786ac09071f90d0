"""Hypothesis strategies for method configs: plausible values, or wild ones.

`config_kwargs(method)` draws a subset of the method config's fields, each
from `FIELD_VALUES`: values a user would plausibly write, some of which do
not fit a given model (a block index past the end, targets that match
nothing, an invalid regex, a bottleneck wider than the hidden size). With
`wild=True` each field is also drawn out of range, of a wrong type or not
finite, to exercise the config checks. A field without an entry in
`FIELD_VALUES` fails the test: a new config field needs a strategy.
"""

import dataclasses

from hypothesis import strategies as st

import keras_adapters.configs
from keras_adapters.configs import registered_methods
from keras_adapters.core.validation import ACTIVATIONS
from keras_adapters.specs.slots import SLOTS

NOT_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
WRONG_TYPES = st.sampled_from([None, True, "3", [1], {"a": 1}, b"x", 2.5])

# Path suffixes and regexes that occur in the tiny models, plus ones that match nothing.
PATH_SUFFIXES = [
    "query",
    "key",
    "value",
    "attention_output",
    "self_attention_layer/query",
    "feedforward_output_dense",
    "feedforward_intermediate_dense",
    "token_embedding",
    "logits",
    "no_such_layer",
    "transformer_layer_0",
]
REGEXES = [
    ".*",
    ".*query.*",
    ".*dense.*",
    ".*_0/.*",
    ".*embedding.*",
    ".*norm.*",
    "transformer_layer_1/.*",
    "(",
    "[",
    "*",
    "a{2,1}",
    "no_such_layer",
]
SLOT_NAMES = sorted(SLOTS)

COMMON_SLOTS = ["query", "key", "value", "attention_output", "ffn_intermediate", "ffn_output"]
patterns = st.one_of(
    st.just("all-linear"),
    st.sampled_from(REGEXES),
    st.lists(st.sampled_from(COMMON_SLOTS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(COMMON_SLOTS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(SLOT_NAMES + PATH_SUFFIXES), min_size=1, max_size=4, unique=True),
)
bad_patterns = st.sampled_from([[], "", ["", "query"], [3], ("query", None)])

# Field -> values a user would plausibly write (some do not fit a given model).
FIELD_VALUES = {
    "layers": st.one_of(
        st.none(), st.integers(-3, 2), st.lists(st.integers(-3, 2), min_size=1, max_size=3)
    ),
    "modules_to_save": st.one_of(
        st.just(()),
        st.none(),
        st.just(["logits"]),
        st.just(["no_such_layer"]),
        st.just("(unclosed"),
        st.just(".*token_embedding"),
    ),
    "rank": st.integers(1, 6),
    "alpha": st.one_of(st.none(), st.floats(0.1, 64.0)),
    "dropout": st.sampled_from([0.0, 0.1, 0.5]),
    "use_rslora": st.booleans(),
    "targets": patterns,
    "exclude": st.one_of(st.none(), patterns),
    "a_initializer": st.sampled_from(["he_uniform", "glorot_uniform", "zeros", "random_normal"]),
    "feedforward": st.one_of(st.none(), st.just(()), patterns),
    "bottleneck_dim": st.one_of(st.none(), st.integers(1, 20)),
    "reduction_factor": st.integers(1, 20),
    "activation": st.sampled_from(ACTIVATIONS),
    "scaling": st.floats(0.01, 8.0),
    "layer_norm": st.booleans(),
    "num_prefix_tokens": st.integers(1, 4),
    "reparameterize": st.booleans(),
    "projection_dim": st.integers(1, 8),
    # AdaLoRA
    "init_rank": st.integers(1, 6),
    "target_rank": st.integers(0, 6),
    "total_steps": st.integers(1, 50),
    "warmup_steps": st.integers(0, 10),
    "final_steps": st.integers(0, 10),
    "reallocation_interval": st.integers(1, 5),
    "beta1": st.sampled_from([0.0, 0.5, 0.85]),
    "beta2": st.sampled_from([0.0, 0.5, 0.85]),
    "orthogonality": st.sampled_from([0.0, 0.1, 0.5]),
    # AdapterFusion: names of adapters the model may or may not have
    "adapters": st.lists(
        st.sampled_from(["first", "second", "third", "not an identifier"]), max_size=3
    ),
    "temperature": st.floats(0.1, 4.0),
}
# Field -> values of the right type that are out of range (besides WRONG_TYPES, NOT_FINITE).
OUT_OF_RANGE = {
    "layers": st.just([]),
    "rank": st.sampled_from([0, -1]),
    "alpha": st.sampled_from([0, -2, 10**400]),
    "dropout": st.sampled_from([1.0, -0.1]),
    "targets": bad_patterns,
    "exclude": bad_patterns,
    "feedforward": bad_patterns,
    "a_initializer": st.sampled_from(["no_such_initializer", "", {"class_name": "Zeros"}]),
    "bottleneck_dim": st.just(0),
    "reduction_factor": st.just(0),
    "activation": st.sampled_from(["softplus", "RELU"]),
    "scaling": st.sampled_from([0.0, -1.0]),
    "num_prefix_tokens": st.sampled_from([0, -1]),
    "projection_dim": st.just(0),
    "init_rank": st.sampled_from([0, -1]),
    "target_rank": st.just(-1),
    "total_steps": st.sampled_from([0, -5]),
    "warmup_steps": st.just(-1),
    "final_steps": st.just(-1),
    "reallocation_interval": st.just(0),
    "beta1": st.sampled_from([1.0, -0.5]),
    "beta2": st.sampled_from([1.0, -0.5]),
    "orthogonality": st.just(-1.0),
    "adapters": st.sampled_from([[], ["first"], ["first", "first"]]),
    "temperature": st.sampled_from([0.0, -1.0]),
}


def config_class(method):
    """The config class registered for `method` (without building one)."""
    classes = {
        value.method: value
        for value in vars(keras_adapters.configs).values()
        if isinstance(value, type) and isinstance(getattr(value, "method", None), str)
    }
    return classes[method]


def config_kwargs(method, wild=False):
    """A strategy for keyword arguments of `method`'s config class (a subset of its fields).

    With `wild`, every field is as often a wrong type or a non-finite number
    as a value from `FIELD_VALUES`.
    """
    fields = [field.name for field in dataclasses.fields(config_class(method))]
    missing = [name for name in fields if name not in FIELD_VALUES]
    assert not missing, f"no strategy for the fields {missing} of {method}"
    values = {name: FIELD_VALUES[name] for name in fields}
    if wild:
        values = {
            name: st.one_of(value, OUT_OF_RANGE.get(name, st.nothing()), WRONG_TYPES, NOT_FINITE)
            for name, value in values.items()
        }
    return st.fixed_dictionaries({}, optional=values)


methods = st.sampled_from(registered_methods())
