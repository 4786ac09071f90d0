"""Adapter directories from elsewhere: corrupt, tampered or hostile files fail cleanly.

Each case edits a good adapter directory, then loads it into a model that
already has an adapter; the load must raise a `ValueError` (or
`FileNotFoundError`) naming the file, and leave the model exactly as it was:
class, variable paths and values, trainable flags and adapters.
"""

import builtins
import contextlib
import importlib
import json
import os
import pickle
import re
import shutil
import struct

import numpy as np
import pytest
import safetensors.numpy

import keras_adapters
from keras_adapters.saving.adapter_file import CONFIG_FILE, WEIGHTS_FILE
from tests.support.tiny_models import make_classifier, make_inputs, randomize_adapters

LORA = keras_adapters.LoraConfig(rank=2, targets=["query", "value"], modules_to_save=["logits"])
KEY = "transformer_layer_0/self_attention_layer/query/lora_a"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    source = make_classifier()
    keras_adapters.add_adapter(source, LORA, "task", verbose=False)
    randomize_adapters(source)
    path = tmp_path_factory.mktemp("saved") / "adapter"
    keras_adapters.save_adapter(source, path)
    return path, np.array(source(make_inputs()))


@pytest.fixture
def adapter(saved, tmp_path):
    path = tmp_path / "adapter"
    shutil.copytree(saved[0], path)
    return path


def _state(model):
    return (
        type(model),
        [v.path for v in model.weights],
        [np.array(v.numpy()) for v in model.weights],
        [v.trainable for v in model.weights],
        keras_adapters.list_adapters(model),
    )


def _assert_state(model, before):
    after = _state(model)
    assert after[0] is before[0] and after[1] == before[1]
    for a, b in zip(after[2], before[2]):
        np.testing.assert_array_equal(a, b)
    assert after[3:] == before[3:]


@pytest.fixture
def target():
    model = make_classifier()
    keras_adapters.add_adapter(
        model, keras_adapters.HoulsbyConfig(bottleneck_dim=2), "other", verbose=False
    )
    return model


@contextlib.contextmanager
def _nothing_executed():
    """Records any unpickling, eval/exec or import while loading; the test asserts none."""
    calls = []
    originals = [
        (module, name, getattr(module, name))
        for module, name in (
            (pickle, "load"),
            (pickle, "loads"),
            (builtins, "eval"),
            (builtins, "exec"),
            (importlib, "import_module"),
            (np, "load"),
        )
    ]

    def recorder(label, original):
        def call(*args, **kwargs):
            calls.append(label)
            return original(*args, **kwargs)

        return call

    for module, name, original in originals:
        setattr(module, name, recorder(f"{module.__name__}.{name}", original))
    try:
        yield calls
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _edit_config(path, change):
    config = json.loads((path / CONFIG_FILE).read_text())
    change(config)
    (path / CONFIG_FILE).write_text(json.dumps(config))


def _set(*keys, value):
    def change(config):
        inner = config
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = value

    return change


def _drop(key):
    return lambda config: config.pop(key)


def _rename_weight(new_key):
    def edit(path):
        tensors = safetensors.numpy.load_file(str(path / WEIGHTS_FILE))
        tensors[new_key] = tensors.pop(KEY)
        safetensors.numpy.save_file(tensors, str(path / WEIGHTS_FILE))
        _edit_config(path, lambda c: c["weights"].__setitem__(new_key, c["weights"].pop(KEY)))

    return edit


def _change_tensor(change):
    def edit(path):
        tensors = safetensors.numpy.load_file(str(path / WEIGHTS_FILE))
        tensors[KEY] = change(tensors[KEY])
        safetensors.numpy.save_file(tensors, str(path / WEIGHTS_FILE))
        shape = list(tensors[KEY].shape)
        _edit_config(path, lambda c: c["weights"].__setitem__(KEY, shape))

    return edit


def _with_value(value):
    def change(array):
        array = array.copy()
        array.flat[3] = value
        return array

    return change


def _raw_weights(header, data):
    def edit(path):
        encoded = json.dumps(header).encode()
        (path / WEIGHTS_FILE).write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)

    return edit


def _write(name, content):
    return lambda path: (path / name).write_bytes(content)


def _truncate(count):
    def edit(path):
        raw = (path / WEIGHTS_FILE).read_bytes()
        (path / WEIGHTS_FILE).write_bytes(raw[:-count])

    return edit


def _symlink(name):
    def edit(path):
        real = path.parent / f"elsewhere-{name}"
        os.replace(path / name, real)
        os.symlink(real, path / name)

    return edit


def _directory_instead(name):
    def edit(path):
        (path / name).unlink()
        (path / name).mkdir()

    return edit


def _config(change):
    return lambda path: _edit_config(path, change)


_F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}

# case -> (edit of the adapter directory, file named in the message, regex of the message)
CASES = {
    # --- the weights file ---
    "weights_truncated": (_truncate(10), WEIGHTS_FILE, r"Cannot read the safetensors file"),
    "weights_empty": (_write(WEIGHTS_FILE, b""), WEIGHTS_FILE, r"Cannot read the safetensors"),
    "weights_random_bytes": (
        _write(WEIGHTS_FILE, bytes(range(256)) * 8),
        WEIGHTS_FILE,
        r"truncated, corrupt, or not a safetensors file",
    ),
    "weights_huge_header_length": (
        _write(WEIGHTS_FILE, struct.pack("<Q", 2**62) + b"{}"),
        WEIGHTS_FILE,
        r"header too large",
    ),
    "weights_offsets_past_end": (
        _raw_weights({KEY: {**_F32, "data_offsets": [0, 4096]}}, bytes(8)),
        WEIGHTS_FILE,
        r"invalid shape, data type, or offset",
    ),
    "weights_shape_not_matching_offsets": (
        _raw_weights({KEY: {**_F32, "shape": [1000, 1000]}}, bytes(8)),
        WEIGHTS_FILE,
        r"invalid shape, data type, or offset",
    ),
    "weights_overlapping_offsets": (
        _raw_weights({KEY: _F32, "b": {**_F32, "data_offsets": [0, 8]}}, bytes(8)),
        WEIGHTS_FILE,
        r"invalid offset",
    ),
    "weights_integer_dtype": (
        _change_tensor(lambda a: a.astype(np.int32)),
        WEIGHTS_FILE,
        rf"The weight '{KEY}' .* has dtype I32; adapter weights must be floats",
    ),
    "weights_bool_dtype": (
        _change_tensor(lambda a: a > 0),
        WEIGHTS_FILE,
        r"has dtype BOOL",
    ),
    "weights_nan": (
        _change_tensor(_with_value(np.nan)),
        WEIGHTS_FILE,
        rf"The weight '{KEY}' .* holds 1 NaN or infinite values",
    ),
    "weights_inf": (_change_tensor(_with_value(-np.inf)), WEIGHTS_FILE, r"1 NaN or infinite"),
    "weights_float64_beyond_float32": (
        _change_tensor(lambda a: _with_value(1e300)(a.astype(np.float64))),
        WEIGHTS_FILE,
        r"1 NaN or infinite values \(as float32\)",
    ),
    "weights_wrong_shape": (
        _change_tensor(lambda a: np.zeros((a.shape[0], 5), a.dtype)),
        None,
        rf"does not fit this model:\s+shape of {KEY}: file \(8, 5\), model \(8, 2\)",
    ),
    "key_path_traversal": (
        _rename_weight("../../etc/passwd"),
        CONFIG_FILE,
        r"holds a weight named '\.\./\.\./etc/passwd', which is not a layer path",
    ),
    "key_absolute": (_rename_weight("/etc/passwd"), CONFIG_FILE, r"'/etc/passwd', which is not"),
    "key_control_characters": (
        _rename_weight("transformer_layer_0/\x1b[2Jquery/lora_a"),
        CONFIG_FILE,
        r"which is not a layer path",
    ),
    "key_unknown_layer": (
        _rename_weight("transformer_layer_9/self_attention_layer/query/lora_a"),
        None,
        r"not in model: transformer_layer_9/self_attention_layer/query/lora_a",
    ),
    "weights_disagree_with_config": (
        _config(lambda c: c["weights"].__setitem__(KEY, [8, 3])),
        CONFIG_FILE,
        r"disagree about the weights",
    ),
    "weights_file_is_symlink": (
        _symlink(WEIGHTS_FILE),
        WEIGHTS_FILE,
        r"is a symbolic link",
    ),
    "weights_file_is_directory": (
        _directory_instead(WEIGHTS_FILE),
        WEIGHTS_FILE,
        r"is not a regular file",
    ),
    # --- the JSON config ---
    "config_not_json": (_write(CONFIG_FILE, b"{not json"), CONFIG_FILE, r"is not valid JSON"),
    "config_not_utf8": (_write(CONFIG_FILE, b'{"a": "\xff"}'), CONFIG_FILE, r"is not UTF-8"),
    "config_a_list": (_write(CONFIG_FILE, b"[1, 2]"), CONFIG_FILE, r"must hold a JSON object"),
    "config_deeply_nested": (
        _write(CONFIG_FILE, b"[" * 100_000),
        CONFIG_FILE,
        r"nested too deeply",
    ),
    "config_repeated_key": (
        _write(CONFIG_FILE, b'{"format_version": 1, "format_version": 1}'),
        CONFIG_FILE,
        r"\['format_version'\] occur more than once",
    ),
    "config_nan": (
        lambda p: (p / CONFIG_FILE).write_text(
            (p / CONFIG_FILE).read_text().replace('"rank": 2', '"rank": NaN')
        ),
        CONFIG_FILE,
        r"NaN is not a JSON number",
    ),
    "config_float_overflow": (
        lambda p: (p / CONFIG_FILE).write_text(
            (p / CONFIG_FILE).read_text().replace('"alpha": null', '"alpha": 1e400')
        ),
        CONFIG_FILE,
        r"the number 1e400 is too large for a float",
    ),
    "config_too_large": (
        _write(CONFIG_FILE, b'{"x": "' + b"a" * (16 * 2**20) + b'"}'),
        CONFIG_FILE,
        r"more than a config file may have",
    ),
    "config_unknown_key": (
        _config(_set("evil", value=1)),
        CONFIG_FILE,
        r"must have exactly the keys .*Unknown: \['evil'\]",
    ),
    "config_missing_key": (_config(_drop("weights")), CONFIG_FILE, r"missing: \['weights'\]"),
    "config_format_version_2": (
        _config(_set("format_version", value=2)),
        CONFIG_FILE,
        r"format_version 1 expected\). Received: format_version=2",
    ),
    "config_format_version_true": (
        _config(_set("format_version", value=True)),
        CONFIG_FILE,
        r"Received: format_version=True",
    ),
    "config_adapter_name_not_identifier": (
        _config(_set("adapter_name", value="../../evil")),
        CONFIG_FILE,
        r"`adapter_name` that is not a Python identifier. Received: adapter_name='\.\./\.\./evil'",
    ),
    "config_adapter_name_code": (
        _config(_set("adapter_name", value="__import__('os').system('true')")),
        CONFIG_FILE,
        r"not a Python identifier",
    ),
    "config_backbone_not_a_name": (
        _config(_set("backbone", value=["BertBackbone"])),
        CONFIG_FILE,
        r"`backbone` that is not a backbone class name",
    ),
    "config_weights_not_shapes": (
        _config(_set("weights", KEY, value=[8, -2])),
        CONFIG_FILE,
        r"`weights` that are not a map from weight name to shape",
    ),
    "config_method_unknown": (
        _config(_set("config", "method", value="evil")),
        CONFIG_FILE,
        r"invalid `config`: Unknown adapter method 'evil'",
    ),
    "config_method_not_object": (
        _config(_set("config", value="lora")),
        CONFIG_FILE,
        r"`config` that is not a JSON object",
    ),
    "config_unknown_field": (
        _config(_set("config", "rnak", value=4)),
        CONFIG_FILE,
        r"Unknown fields for LoraConfig: \['rnak'\]",
    ),
    "config_rank_string": (
        _config(_set("config", "rank", value="2")),
        CONFIG_FILE,
        r"`rank` must be a positive integer. Received: rank='2'",
    ),
    "config_initializer_object": (  # Keras would import the module it names
        _config(
            _set(
                "config",
                "a_initializer",
                value={"module": "os", "class_name": "system", "config": {}},
            )
        ),
        CONFIG_FILE,
        r"`a_initializer` must be the name of a Keras initializer",
    ),
    "config_rank_zero": (_config(_set("config", "rank", value=0)), CONFIG_FILE, r"rank=0"),
    "config_rank_huge": (
        _config(_set("config", "rank", value=10**12)),
        CONFIG_FILE,
        r"has `rank`=1,000,000,000,000, but its weights file holds only",
    ),
    "config_dropout_out_of_range": (
        _config(_set("config", "dropout", value=1.5)),
        CONFIG_FILE,
        r"`dropout` must be a float in \[0, 1\). Received: dropout=1.5",
    ),
    "config_rslora_not_bool": (
        _config(_set("config", "use_rslora", value="yes")),
        CONFIG_FILE,
        r"Received: use_rslora='yes'",
    ),
    "config_targets_wrong_type": (
        _config(_set("config", "targets", value=7)),
        CONFIG_FILE,
        r"`targets` must be a regex string .* Received: targets=7",
    ),
    "config_layers_out_of_range": (
        _config(_set("config", "layers", value=[7])),
        None,
        r"`layers` must hold block indices in \[-2, 1\]",
    ),
    "config_modules_to_save_nothing": (
        _config(_set("config", "modules_to_save", value=["no_such_layer"])),
        None,
        r"`modules_to_save` matched no",
    ),
    "config_file_is_symlink": (_symlink(CONFIG_FILE), CONFIG_FILE, r"is a symbolic link"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_adapter_directory_fails_cleanly(case, adapter, target):
    edit, named_file, pattern = CASES[case]
    edit(adapter)
    before = _state(target)
    with _nothing_executed() as calls, pytest.raises(ValueError) as info:
        keras_adapters.load_adapter(target, adapter)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert str(adapter / named_file if named_file else adapter) in message
    _assert_state(target, before)
    assert calls == []


def test_missing_files_and_bad_names(adapter, target):
    before = _state(target)
    with pytest.raises(ValueError, match="Received: adapter_name='not an identifier'"):
        keras_adapters.load_adapter(target, adapter, adapter_name="not an identifier")
    with pytest.raises(ValueError, match="'other' is already used"):
        keras_adapters.load_adapter(target, adapter, adapter_name="other")
    (adapter / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=f"it has no {WEIGHTS_FILE}"):
        keras_adapters.load_adapter(target, adapter)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        keras_adapters.load_adapter(target, adapter.parent / "nothing")
    _assert_state(target, before)


def test_good_directory_still_loads_without_executing_anything(saved, adapter, target):
    with _nothing_executed() as calls:
        keras_adapters.load_adapter(target, adapter, adapter_name="loaded")
    assert calls == []
    keras_adapters.set_active_adapters(target, "loaded")
    np.testing.assert_allclose(target(make_inputs()), saved[1], atol=1e-6)


def test_float16_and_float64_weights_are_read_as_float32(saved, adapter, target):
    tensors = safetensors.numpy.load_file(str(adapter / WEIGHTS_FILE))
    tensors = {k: v.astype(np.float64) for k, v in tensors.items()}
    safetensors.numpy.save_file(tensors, str(adapter / WEIGHTS_FILE))
    keras_adapters.load_adapter(target, adapter)
    np.testing.assert_allclose(target(make_inputs()), saved[1], atol=1e-6)
