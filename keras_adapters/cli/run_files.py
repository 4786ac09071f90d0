"""What a `train` run writes, and rebuilding its model from the run directory."""

import json
import pathlib

from keras_adapters.cli.method_configs import METHODS
from keras_adapters.saving.checked_files import (
    check_directory,
    check_regular_file,
    read_json_object,
)

RUN_CONFIG = "run_config.json"
ADAPTER_DIR = "adapter"
FULL_WEIGHTS = "model.weights.h5"
SAVED_MODEL_DIR = "saved_model"
METRICS = "metrics.json"
CURVE = "training_curve.png"
ADAPTER_NAME = "default"
FORMAT_VERSION = 1


def build_classifier(backbone_preset, sequence_length, num_classes, cache_dir=None):
    """The pretrained backbone with its tokenizer and a mean-pooled classifier head."""
    import keras_hub

    from keras_adapters.assets import load_backbone_preset
    from keras_adapters.models import MeanPooledTextClassifier

    backbone, tokenizer = load_backbone_preset(backbone_preset, cache_dir=cache_dir)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return MeanPooledTextClassifier(backbone, num_classes=num_classes, preprocessor=preprocessor)


# Every key a run config may hold -> the check of its value (`read_run_config`).
RUN_CONFIG_KEYS = (
    "format_version",
    "task",
    "backbone_preset",
    "sequence_length",
    "label_names",
    "label_words",
    "instruction",
    "system_prompt",
    "max_new_tokens",
    "method",
    "adapter_name",
    "adapter_config",
    "data_source",
    "seed",
    "split_seed",
)
REQUIRED_KEYS = ("format_version", "backbone_preset", "sequence_length", "label_names", "method")
MAX_SEQUENCE_LENGTH = 65_536
MAX_LABELS = 100_000


def write_run_config(directory, **values):
    unknown = sorted(set(values) - set(RUN_CONFIG_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown run config keys {unknown}: add them to run_files.RUN_CONFIG_KEYS (and "
            "their check to read_run_config) so that export and predict accept the run."
        )
    config = {"format_version": FORMAT_VERSION, **values}
    (pathlib.Path(directory) / RUN_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def read_run_config(run_dir):
    """Reads `run_config.json` of a run directory and checks every value that is used.

    The file must be a regular file (not a link) holding a JSON object with
    only `RUN_CONFIG_KEYS`; the backbone must be a known preset (never a
    path), and the adapter or weights are always read from fixed names inside
    the run directory, so nothing in the file can point outside it.
    """
    run_dir = pathlib.Path(run_dir)
    path = run_dir / RUN_CONFIG
    if not run_dir.is_dir() or not (path.exists() or path.is_symlink()):
        raise FileNotFoundError(
            f"`run_dir` must be a directory written by `keras-adapters train` (with {RUN_CONFIG}). "
            f"Received: run_dir={str(run_dir)!r}"
        )
    config = read_json_object(path)
    where = repr(str(path))
    version = config.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ValueError(
            f"{where} has an unknown format_version: {_short(version)} ({FORMAT_VERSION} expected)."
        )
    unknown = sorted(set(config) - set(RUN_CONFIG_KEYS))
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if unknown or missing:
        raise ValueError(
            f"{where} is not a run config of this version: unknown keys "
            f"{[k[:80] for k in unknown[:10]]}, missing keys {missing}. Valid keys: "
            f"{list(RUN_CONFIG_KEYS)}."
        )
    for key, check in _CHECKS.items():
        if key in config and not check(config[key]):
            raise ValueError(
                f"{where} has an invalid `{key}` ({_EXPECTED[key]}). Received: "
                f"{key}={_short(config[key])}"
            )
    task = config.get("task", "text-classification")
    presets = _presets(task)
    if config["backbone_preset"] not in presets:
        raise ValueError(
            f"{where} names an unknown backbone preset for {task}. Valid presets: "
            f"{', '.join(presets)}. Received: backbone_preset={_short(config['backbone_preset'])}"
        )
    if is_causal_lm(config):
        for key in ("instruction", "system_prompt"):
            if key not in config:
                raise ValueError(f"{where} is a causal-lm run without `{key}`.")
    return config


def _presets(task):
    import keras_adapters

    if task == "causal-lm":
        return keras_adapters.assets.list_causal_lm_presets()
    return keras_adapters.assets.list_backbone_presets()


def _is_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_names(value):
    return (
        isinstance(value, list)
        and 1 <= len(value) <= MAX_LABELS
        and all(isinstance(name, str) and name for name in value)
        and len(set(value)) == len(value)
    )


_CHECKS = {
    "task": lambda v: v in ("text-classification", "causal-lm"),
    "backbone_preset": lambda v: isinstance(v, str),
    "sequence_length": lambda v: _is_int(v, 1, MAX_SEQUENCE_LENGTH),
    "label_names": _is_names,
    "label_words": lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
    "instruction": lambda v: v is None or isinstance(v, str),
    "system_prompt": lambda v: v is None or isinstance(v, str),
    "max_new_tokens": lambda v: _is_int(v, 1, MAX_SEQUENCE_LENGTH),
    "method": lambda v: v in METHODS,
    "adapter_name": lambda v: isinstance(v, str) and v.isidentifier(),
    "adapter_config": lambda v: v is None or isinstance(v, dict),
    "data_source": lambda v: isinstance(v, str),
    "seed": lambda v: _is_int(v, -(2**63), 2**63 - 1),
    "split_seed": lambda v: _is_int(v, -(2**63), 2**63 - 1),
}
_EXPECTED = {
    "task": "'text-classification' or 'causal-lm'",
    "backbone_preset": "a preset name",
    "sequence_length": f"an integer from 1 to {MAX_SEQUENCE_LENGTH:,}",
    "label_names": f"a list of 1 to {MAX_LABELS:,} distinct non-empty strings",
    "label_words": "a list of strings",
    "instruction": "a string or null",
    "system_prompt": "a string or null",
    "max_new_tokens": f"an integer from 1 to {MAX_SEQUENCE_LENGTH:,}",
    "method": "a method of `keras-adapters train --method`",
    "adapter_name": "a Python identifier",
    "adapter_config": "a JSON object or null",
    "data_source": "a string",
    "seed": "a 64-bit integer",
    "split_seed": "a 64-bit integer",
}


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_causal_lm(config):
    return config.get("task") == "causal-lm"


def load_run_model(run_dir, cache_dir=None):
    """Rebuilds the trained Keras model of a run; returns `(model, run_config)`.

    A classifier for text-classification runs, the KerasHub causal LM for
    `--task causal-lm` runs.
    """
    import keras_adapters

    config = read_run_config(run_dir)
    if is_causal_lm(config):
        model = keras_adapters.assets.load_causal_lm_preset(
            config["backbone_preset"],
            cache_dir=cache_dir,
            sequence_length=config["sequence_length"],
        )
    else:
        model = build_classifier(
            config["backbone_preset"],
            config["sequence_length"],
            len(config["label_names"]),
            cache_dir,
        )
    run_dir = pathlib.Path(run_dir)
    if config["method"] == "full":
        weights = run_dir / FULL_WEIGHTS
        check_regular_file(weights)
        try:
            model.load_weights(weights)
        except Exception as error:  # noqa: BLE001 - h5py and Keras raise many types for bad files
            raise ValueError(
                f"Cannot load the weights {str(weights)!r} into the run's model: {error}"
            ) from None
    else:
        check_directory(run_dir / ADAPTER_DIR, "run_dir")
        keras_adapters.load_adapter(model, run_dir / ADAPTER_DIR, adapter_name=ADAPTER_NAME)
    return model, config
