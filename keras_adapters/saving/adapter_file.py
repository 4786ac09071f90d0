"""Adapter-only files: a small weights file plus a JSON config, keyed by layer path."""

import json
import math
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
from keras_adapters.saving.checked_files import (
    check_regular_file,
    check_weight_key,
    read_float32_tensors,
    read_json_object,
    read_safetensors_header,
)

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_weights.safetensors"
FORMAT_VERSION = 1
SAVED_MODULES_PREFIX = "modules_to_save/"
CONFIG_KEYS = ("format_version", "adapter_name", "backbone", "config", "weights")


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

    Everything is checked first (method config, backbone, every key, dtype,
    shape and value of the weights); a file from another model, or one that
    is corrupt or tampered with, raises an error naming the file and what is
    wrong, and the model is left unchanged. Only JSON and safetensors are
    read (no pickle, nothing executed); links in place of the two files,
    unknown or missing config keys, non-float or non-finite weights and
    weight names that are not layer paths are refused.

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
    config_path = pathlib.Path(path) / CONFIG_FILE
    context = ModelContext(model)
    if saved["backbone"] != context.spec.name:
        raise ValueError(
            f"The adapter at {str(path)!r} was saved from a {saved['backbone']}; this model's "
            f"backbone is a {context.spec.name}."
        )
    try:
        config = config_from_dict(saved["config"])
    except ValueError as error:
        raise ValueError(f"{str(config_path)!r} has an invalid `config`: {error}") from None
    weights_path = pathlib.Path(path) / WEIGHTS_FILE
    header = read_safetensors_header(weights_path)
    found = {key: shape for key, (_, shape) in header.items()}
    recorded = {key: tuple(shape) for key, shape in saved["weights"].items()}
    if recorded != found:
        differ = sorted(set(recorded) ^ set(found)) or sorted(
            k for k in found if found[k] != recorded[k]
        )
        raise ValueError(
            f"{str(config_path)!r} and {str(weights_path)!r} disagree about the weights "
            f"(e.g. {differ[0]!r}): the directory mixes files of two adapters or was edited."
        )
    _check_sizes_fit(config, sum(math.prod(shape) for shape in found.values()), config_path)
    try:
        plan = plan_adapter(model, config, name, activate)
    except ValueError as error:
        raise ValueError(
            f"Cannot add the adapter at {str(path)!r} to this model: {error}"
        ) from None
    saved_modules = {
        SAVED_MODULES_PREFIX + v.path: v
        for layer in modules_to_save_layers(model, plan.config.modules_to_save)
        for v in layer.weights
    }
    expected = dict(plan.expected_weights())
    expected.update({key: tuple(v.shape) for key, v in saved_modules.items()})
    _check_weights(path, expected, found)
    tensors = read_float32_tensors(weights_path, sorted(expected))
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
    """Reads and checks `adapter_config.json` of an adapter directory.

    The file must be a regular file (not a link) holding exactly the keys
    `save_adapter` writes, with their types; the method config inside is
    checked when it is built (`keras_adapters.configs.config_from_dict`).
    """
    path = pathlib.Path(path)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    if not path.is_dir() or not (config_path.exists() or config_path.is_symlink()):
        raise FileNotFoundError(
            f"`path` must be a directory written by keras_adapters.save_adapter, holding "
            f"{CONFIG_FILE} and {WEIGHTS_FILE}. Received: path={str(path)!r}"
        )
    for file in (config_path, weights_path):
        if not file.exists() and not file.is_symlink():
            raise FileNotFoundError(
                f"`path` must be a directory written by keras_adapters.save_adapter; it has no "
                f"{file.name}. Received: path={str(path)!r}"
            )
        check_regular_file(file)
    saved = read_json_object(config_path)
    where = repr(str(config_path))
    if saved.get("format_version") != FORMAT_VERSION or isinstance(
        saved.get("format_version"), bool
    ):
        raise ValueError(
            f"{where} is not a keras-adapters adapter config (format_version "
            f"{FORMAT_VERSION} expected). Received: format_version="
            f"{_short(saved.get('format_version'))}"
        )
    unknown = sorted(set(saved) - set(CONFIG_KEYS))
    missing = [key for key in CONFIG_KEYS if key not in saved]
    if unknown or missing:
        raise ValueError(
            f"{where} must have exactly the keys {list(CONFIG_KEYS)}. Unknown: "
            f"{[k[:80] for k in unknown[:10]]}; missing: {missing}."
        )
    name = saved["adapter_name"]
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"{where} has an `adapter_name` that is not a Python identifier. Received: "
            f"adapter_name={_short(name)}"
        )
    if not isinstance(saved["backbone"], str) or not saved["backbone"].isidentifier():
        raise ValueError(
            f"{where} has a `backbone` that is not a backbone class name. Received: "
            f"backbone={_short(saved['backbone'])}"
        )
    if not isinstance(saved["config"], dict):
        raise ValueError(
            f"{where} has a `config` that is not a JSON object. Received: "
            f"config={_short(saved['config'])}"
        )
    weights = saved["weights"]
    if not isinstance(weights, dict) or not all(
        isinstance(shape, list)
        and len(shape) <= 8
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        for shape in weights.values()
    ):
        raise ValueError(
            f"{where} has `weights` that are not a map from weight name to shape (a list of "
            f"non-negative integers). Received: weights={_short(weights)}"
        )
    for key in weights:
        check_weight_key(key, config_path)
    return saved


def _check_sizes_fit(config, num_values, config_path):
    """Refuses a size that the weights file cannot hold, before building anything that big.

    Every unit of a size field adds at least one value to the adapter, so a
    hostile `rank=10**12` fails here instead of allocating the weights.
    """
    fields = ["rank", "bottleneck_dim", "num_prefix_tokens"]
    if getattr(config, "reparameterize", False):
        fields.append("projection_dim")
    for field in fields:
        size = getattr(config, field, None)
        if size is not None and size > num_values:
            raise ValueError(
                f"{str(config_path)!r} has `{field}`={size:,}, but its weights file holds only "
                f"{num_values:,} values in all; the files do not belong together."
            )


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


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _numpy(variable):
    array = np.asarray(variable.numpy(), dtype=np.float32)
    # `ascontiguousarray` turns a scalar into shape (1,): keep the variable's shape.
    return np.ascontiguousarray(array).reshape(array.shape)
