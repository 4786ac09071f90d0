"""Adapter-only files: a small weights file plus a JSON config, keyed by layer path."""

import json
import pathlib

import numpy as np
import safetensors.numpy

from keras_adapters.injection.adapter_plan import plan_adapter
from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.add_adapter import insert_planned
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.injection.trainable_report import trainable_report
from keras_adapters.methods.registry import config_from_dict
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.saving.atomic_directory import atomic_directory

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_weights.safetensors"
FORMAT_VERSION = 1
SAVED_MODULES_PREFIX = "modules_to_save/"


def save_adapter(model, path, adapter_name=None, overwrite=True):
    """Writes one adapter's weights and config to the directory `path`.

    `path` gets `adapter_config.json` (method config, backbone, weight
    shapes) and `adapter_weights.safetensors` (weights keyed by the layer
    path of their site, e.g.
    `transformer_layer_0/self_attention_layer/query/lora_a`, plus the
    `modules_to_save` weights). The directory is written aside and renamed
    into place, so it is never half-written.

    Args:
        model: an adapted model.
        path: directory to write.
        adapter_name: which adapter; defaults to the single active one.
        overwrite: replace an existing adapter directory.

    Example:
    ```python
    keras_adapters.save_adapter(classifier, "adapters/sentiment")
    ```
    """
    state = require_state(model)
    name = _default_name(state) if adapter_name is None else adapter_name
    if name not in state.configs:
        raise ValueError(
            f"`adapter_name` must be one of {list(state.configs)}. Received: adapter_name={name!r}"
        )
    context = ModelContext(model)
    tensors = {}
    for wrapper in context.wrappers_of(name):
        for variable in wrapper.get_adapter(name).weights:
            tensors[f"{wrapper.location}/{variable.name}"] = _numpy(variable)
    for layer in modules_to_save_layers(model, state.configs[name].modules_to_save):
        for variable in layer.weights:
            tensors[SAVED_MODULES_PREFIX + variable.path] = _numpy(variable)
    config = {
        "format_version": FORMAT_VERSION,
        "adapter_name": name,
        "backbone": context.spec.name,
        "config": state.configs[name].get_config(),
        "weights": {key: list(value.shape) for key, value in sorted(tensors.items())},
    }
    with atomic_directory(path, overwrite=overwrite, marker=CONFIG_FILE) as directory:
        safetensors.numpy.save_file(tensors, str(directory / WEIGHTS_FILE))
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def load_adapter(model, path, adapter_name=None, activate=True, verbose=False):
    """Adds the adapter saved at `path` to `model`, with its weights.

    Everything is checked first (method config, backbone, every key and shape
    of the weights); a file from another model raises an error naming the
    mismatching paths and shapes, and the model is left unchanged.

    Args:
        model: the model to add the adapter to.
        path: a directory written by `keras_adapters.save_adapter`.
        adapter_name: name on this model; defaults to the saved name.
        activate: make it the active adapter.
        verbose: print the trainable-parameter report.

    Returns:
        The adapter name used.

    Example:
    ```python
    keras_adapters.load_adapter(classifier, "adapters/sentiment")
    ```
    """
    saved = read_adapter_config(path)
    name = saved["adapter_name"] if adapter_name is None else adapter_name
    context = ModelContext(model)
    if saved["backbone"] != context.spec.name:
        raise ValueError(
            f"The adapter at {str(path)!r} was saved from a {saved['backbone']}; this model's "
            f"backbone is a {context.spec.name}."
        )
    plan = plan_adapter(model, config_from_dict(saved["config"]), name, activate, restoring=True)
    weights_path = pathlib.Path(path) / WEIGHTS_FILE
    try:
        tensors = safetensors.numpy.load_file(str(weights_path))
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        raise ValueError(
            f"Cannot read the adapter weights {str(weights_path)!r}: {error}"
        ) from None
    saved_modules = {
        SAVED_MODULES_PREFIX + v.path: v
        for layer in modules_to_save_layers(model, plan.config.modules_to_save)
        for v in layer.weights
    }
    expected = dict(plan.expected_weights())
    expected.update({key: tuple(v.shape) for key, v in saved_modules.items()})
    _check_weights(path, expected, {k: tuple(v.shape) for k, v in tensors.items()})
    for site, module in plan.insertions:
        for variable in module.weights:
            variable.assign(tensors[f"{site.location}/{variable.name}"])
    insert_planned(plan, activate)
    for key, variable in saved_modules.items():
        variable.assign(tensors[key])
    if verbose:
        print(trainable_report(model))
    return name


def read_adapter_config(path):
    """Reads and checks `adapter_config.json` of an adapter directory."""
    path = pathlib.Path(path)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(
            f"`path` must be a directory written by keras_adapters.save_adapter, holding "
            f"{CONFIG_FILE} and {WEIGHTS_FILE}. Received: path={str(path)!r}"
        )
    try:
        saved = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{config_path} is not valid JSON: {error}") from None
    if not isinstance(saved, dict) or saved.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{config_path} is not a keras-adapters adapter config (format_version "
            f"{FORMAT_VERSION} expected)."
        )
    return saved


def _check_weights(path, expected, found):
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"The adapter at {str(path)!r} does not fit this model:"]
    lines += [f"  shape of {k}: file {found[k]}, model {expected[k]}" for k in wrong[:10]]
    lines += [f"  missing in file: {k} {expected[k]}" for k in missing[:10]]
    lines += [f"  not in model: {k} {found[k]}" for k in unexpected[:10]]
    raise ValueError("\n".join(lines))


def _default_name(state):
    if len(state.active) != 1:
        raise ValueError(
            f"Pass `adapter_name`: the model has {len(state.active)} active adapters "
            f"({list(state.active)}); adapters: {list(state.configs)}."
        )
    return state.active[0]


def _numpy(variable):
    array = np.asarray(variable.numpy(), dtype=np.float32)
    # `ascontiguousarray` turns a scalar into shape (1,): keep the variable's shape.
    return np.ascontiguousarray(array).reshape(array.shape)
