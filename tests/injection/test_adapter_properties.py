"""Property: any config on any tiny model builds a working adapter or raises before changing it.

Hypothesis draws one or two (method config, adapter name) steps, with
targets, layers and hyperparameters mostly plausible and sometimes wrong
(tests/support/config_strategies.py), and applies them to a tiny encoder or
decoder. Each `add_adapter` must either

- succeed: the adapter is listed and active, it added weights (no silent
  no-op), only its weights and `modules_to_save` train, the output keeps its
  shape and stays finite, and equals the base output at initialisation for
  every method that promises identity (all but prefix tuning and MAM); or
- raise `ValueError`, with the model exactly as before: class, variable
  paths and values, trainable flags and `keras_adapters.list_adapters`.

Any other exception fails. Afterwards every added adapter is deleted, which
must give back the base model exactly (the next example starts from it).
"""

import re

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import keras_adapters
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.specs.slots import PROJECTION_SLOTS, SLOTS
from tests.support import tiny_decoders, tiny_models
from tests.support.config_strategies import (
    FIELD_VALUES,
    config_class,
    config_kwargs,
    methods,
    patterns,
)

NOT_IDENTITY = ("prefix", "mam")  # prefixes change attention from the start
MODELS = {
    "bert_classifier": (lambda: tiny_models.make_classifier("bert"), tiny_models.make_inputs),
    "albert": (
        lambda: tiny_models.make_backbone("albert"),
        lambda: tiny_models.make_inputs("albert"),
    ),
    "deberta_v3": (
        lambda: tiny_models.make_backbone("deberta_v3"),
        lambda: tiny_models.make_inputs("deberta_v3"),
    ),
    "llama": (lambda: tiny_decoders.make_backbone("llama"), tiny_decoders.make_inputs),
    "gpt_neo_x": (lambda: tiny_decoders.make_backbone("gpt_neo_x"), tiny_decoders.make_inputs),
}
_CACHE = {}  # kind -> (model, inputs, base outputs, base snapshot); rebuilt if left dirty

FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MANY = settings(FAST, max_examples=400)

steps = st.lists(
    st.tuples(
        methods.flatmap(lambda m: st.tuples(st.just(m), config_kwargs(m))),
        st.sampled_from(["first", "second", "first", "not an identifier"]),
    ),
    min_size=1,
    max_size=2,
)


def _outputs(model, inputs):
    return [np.array(keras.ops.convert_to_numpy(y)) for y in keras.tree.flatten(model(inputs))]


def _adapters(model):
    try:
        return keras_adapters.list_adapters(model)
    except ValueError:
        return None


def _snapshot(model):
    return {
        "class": type(model),
        "paths": [v.path for v in model.weights],
        "values": [np.array(v.numpy()) for v in model.weights],
        "trainable": [v.trainable for v in model.weights],
        "adapters": _adapters(model),
    }


def _assert_unchanged(model, before):
    after = _snapshot(model)
    assert after["class"] is before["class"]
    assert after["adapters"] == before["adapters"]
    assert after["paths"] == before["paths"]  # in order: get_weights/set_weights are positional
    assert after["trainable"] == before["trainable"]
    for path, a, b in zip(after["paths"], after["values"], before["values"]):
        np.testing.assert_array_equal(a, b, err_msg=path)


def _model(kind):
    if kind not in _CACHE:
        build, make_inputs = MODELS[kind]
        model, inputs = build(), make_inputs()
        _CACHE[kind] = (model, inputs, _outputs(model, inputs), _snapshot(model))
    return _CACHE[kind]


def _check_added(model, config, name, before, inputs, base):
    adapters = keras_adapters.list_adapters(model)
    assert adapters[name] == {"method": config.method, "active": True, "merged": False}
    assert len(model.weights) > len(before["paths"]), "add_adapter added no weights"
    own = {
        id(v)
        for wrapper in ModelContext(model).wrappers_of(name)
        for v in wrapper.get_adapter(
            name
        ).trainable_weights  # AdaLoRA's masks and scores do not train
    }
    assert own, "no wrapper holds the adapter's trainable weights"
    kept = {
        id(v)
        for layer in modules_to_save_layers(model, config.modules_to_save)
        for v in layer.weights
    }
    trainable = {id(v) for v in model.trainable_weights}
    assert own <= trainable and trainable <= own | kept
    outputs = _outputs(model, inputs)
    assert [y.shape for y in outputs] == [y.shape for y in base]
    assert all(np.isfinite(y).all() for y in outputs)
    if config.method not in NOT_IDENTITY:
        for y, y0 in zip(outputs, base):
            np.testing.assert_allclose(y, y0, rtol=1e-4, atol=1e-5)


def _run(kind, drawn_steps):
    model, inputs, base, pristine = _model(kind)
    added = []
    try:
        for (method, kwargs), name in drawn_steps:
            try:
                config = config_class(method)(**kwargs)
            except ValueError:
                event("config refused")
                continue
            before = _snapshot(model)
            try:
                keras_adapters.add_adapter(model, config, name, verbose=False)
            except ValueError as error:
                assert str(error)
                _assert_unchanged(model, before)
                event("add_adapter refused")
                continue
            added.append(name)
            event(f"added {method}")
            _check_added(model, config, name, before, inputs, base)
        for name in reversed(added):
            keras_adapters.delete_adapter(model, name)
        _assert_unchanged(model, pristine)
        for y, y0 in zip(_outputs(model, inputs), base):
            np.testing.assert_array_equal(y, y0)
    except BaseException:
        _CACHE.pop(kind, None)  # never reuse a model a failing example may have left changed
        raise


@pytest.fixture(scope="module")
def built_models():
    """Builds the models before Hypothesis runs (building seeds Python's `random`)."""
    for kind in MODELS:
        _model(kind)


@FAST
@given(kind=st.sampled_from(sorted(MODELS)), drawn_steps=steps)
def test_add_adapter_builds_a_working_adapter_or_changes_nothing(built_models, kind, drawn_steps):
    _run(kind, drawn_steps)


@pytest.mark.slow
@MANY
@given(kind=st.sampled_from(sorted(MODELS)), drawn_steps=steps)
def test_add_adapter_property_many_examples(built_models, kind, drawn_steps):
    _run(kind, drawn_steps)


# --- LoRA targets: exactly the layers the documented matching rules select ---

TARGET_MODELS = ["bert_classifier", "gpt_neo_x", "llama"]
CAPABLE = (keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Embedding)


def _slots_by_layer(context, block):
    found = {}
    for slot in context.spec.slots:
        found.setdefault(id(context.slot_layer(block, slot)), set()).add(slot)
    return found


def _matches(layer, slots, patterns_):
    """The rules of keras_adapters/planning/targets.py, restated: the test's oracle."""
    path = layer.path
    if patterns_ is None:
        return False
    if isinstance(patterns_, str):
        return path is not None and re.fullmatch(patterns_, path) is not None
    return any(
        (entry in slots)
        if entry in SLOTS
        else path is not None and (path == entry or path.endswith("/" + entry))
        for entry in patterns_
    )


def _selected_paths(model, config):
    """The paths LoRA must adapt, or None if the config must be refused."""
    context = ModelContext(model)
    spec = context.spec

    def resolve(value):
        if value == "all-linear":
            return tuple(s for s in PROJECTION_SLOTS if spec.has_slot(s))
        return value

    targets, exclude = resolve(config.targets), resolve(config.exclude)
    for value in (targets, exclude):
        if isinstance(value, tuple) and any(e in SLOTS and not spec.has_slot(e) for e in value):
            return None
    count = len(context.blocks)
    if config.layers is not None and any(not -count <= i < count for i in config.layers):
        return None
    indices = range(count) if config.layers is None else sorted({i % count for i in config.layers})
    selected = set()
    for index in indices:
        block = context.blocks[index]
        slots_of = _slots_by_layer(context, block)
        for layer in block._flatten_layers(include_self=False):
            slots = slots_of.get(id(layer), set())
            if not _matches(layer, slots, targets) or _matches(layer, slots, exclude):
                continue
            if layer.path is None or not isinstance(layer, CAPABLE):
                return None  # a matched layer LoRA cannot adapt is an error, never skipped
            selected.add(layer.path)
    return selected or None


def _check_lora_targets(kind, kwargs):
    model, inputs, base, pristine = _model(kind)
    try:
        config = keras_adapters.LoraConfig(rank=2, **kwargs)
    except ValueError:
        event("config refused")
        return
    expected = _selected_paths(model, config)
    before = _snapshot(model)
    try:
        try:
            keras_adapters.add_adapter(model, config, "probe", verbose=False)
        except ValueError as error:
            event("refused")
            assert expected is None, f"refused ({error}), but these match: {sorted(expected)}"
            _assert_unchanged(model, before)
            return
        event("added")
        wrapped = {w.location for w in ModelContext(model).wrappers_of("probe")}
        assert wrapped == expected
        for y, y0 in zip(_outputs(model, inputs), base):
            np.testing.assert_allclose(y, y0, rtol=1e-4, atol=1e-5)
        keras_adapters.delete_adapter(model, "probe")
        _assert_unchanged(model, pristine)
    except BaseException:
        _CACHE.pop(kind, None)
        raise


target_kwargs = st.fixed_dictionaries(
    {"targets": patterns},
    optional={"exclude": st.one_of(st.none(), patterns), "layers": FIELD_VALUES["layers"]},
)


@settings(FAST, max_examples=60)
@given(kind=st.sampled_from(TARGET_MODELS), kwargs=target_kwargs)
def test_lora_adapts_exactly_the_layers_its_targets_select(built_models, kind, kwargs):
    _check_lora_targets(kind, kwargs)


@pytest.mark.slow
@settings(MANY, max_examples=500)
@given(kind=st.sampled_from(TARGET_MODELS), kwargs=target_kwargs)
def test_lora_targets_many_examples(built_models, kind, kwargs):
    _check_lora_targets(kind, kwargs)
