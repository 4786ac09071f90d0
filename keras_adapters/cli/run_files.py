"""What a `train` run writes, and rebuilding its model from the run directory."""

import json
import pathlib

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


def build_token_classifier(backbone_preset, sequence_length, tag_names, cache_dir=None):
    """The pretrained backbone with its tokenizer and a per-token tagging head."""
    from keras_adapters.assets import load_backbone_preset
    from keras_adapters.models import TokenClassifier, TokenClassifierPreprocessor

    backbone, tokenizer = load_backbone_preset(backbone_preset, cache_dir=cache_dir)
    preprocessor = TokenClassifierPreprocessor(tokenizer, sequence_length=sequence_length)
    return TokenClassifier(backbone, tag_names=tag_names, preprocessor=preprocessor)


def write_run_config(directory, **values):
    config = {"format_version": FORMAT_VERSION, **values}
    (pathlib.Path(directory) / RUN_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def read_run_config(run_dir):
    path = pathlib.Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise FileNotFoundError(
            f"`run_dir` must be a directory written by `keras-adapters train` (with {RUN_CONFIG}). "
            f"Received: run_dir={str(run_dir)!r}"
        )
    config = json.loads(path.read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has an unknown format_version: {config.get('format_version')!r}")
    return config


def is_causal_lm(config):
    return config.get("task") == "causal-lm"


def is_token_classification(config):
    return config.get("task") == "token-classification"


def load_run_model(run_dir, cache_dir=None):
    """Rebuilds the trained Keras model of a run; returns `(model, run_config)`.

    A classifier for text-classification runs, the KerasHub causal LM for
    `--task causal-lm` runs, a token classifier for `--task token-classification` runs.
    """
    import keras_adapters

    config = read_run_config(run_dir)
    if is_causal_lm(config):
        model = keras_adapters.assets.load_causal_lm_preset(
            config["backbone_preset"],
            cache_dir=cache_dir,
            sequence_length=config["sequence_length"],
        )
    elif is_token_classification(config):
        model = build_token_classifier(
            config["backbone_preset"], config["sequence_length"], config["tag_names"], cache_dir
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
        model.load_weights(run_dir / FULL_WEIGHTS)
    else:
        keras_adapters.load_adapter(model, run_dir / ADAPTER_DIR, adapter_name=ADAPTER_NAME)
    return model, config
