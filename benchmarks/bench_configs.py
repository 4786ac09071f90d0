"""What the benchmark runs: method names, the models they build, synthetic data.

Every configuration builds its own model from scratch with the same seed, so
the methods start from identical weights and differ only in what they add or
unfreeze. Heavy imports (TensorFlow, Keras, KerasHub) happen inside the
functions, so the parent process of `run_benchmarks.py` never loads them.
"""

TRAIN_METHODS = (
    "full",
    "keras_lora",
    "lora",
    "lora_all",
    "pfeiffer",
    "houlsby",
    "parallel",
    "prefix",
)
INFERENCE_CONFIGS = ("base", "lora_unmerged", "lora_merged", "pfeiffer")

# Methods of keras-adapters itself: the ones held to "clearly faster than full".
OUR_METHODS = ("lora", "lora_all", "pfeiffer", "houlsby", "parallel", "prefix")

LABELS = {
    "full": "Full fine-tuning",
    "keras_lora": "Keras LoRA r=8",
    "lora": "LoRA r=8 (ours)",
    "lora_all": "LoRA r=8, all projections (ours)",
    "pfeiffer": "Pfeiffer",
    "houlsby": "Houlsby",
    "parallel": "Parallel",
    "prefix": "Prefix (10 tokens)",
    "base": "Base model",
    "lora_unmerged": "LoRA r=8, unmerged",
    "lora_merged": "LoRA r=8, merged",
}

SETUPS = {
    "full": "every weight trainable",
    "keras_lora": "`backbone.enable_lora(8)` (query, value) + trainable head; "
    "Keras factorizes only the last kernel axis (on MiniLM A 384×12×8, B 8×32) "
    "and trains the biases",
    "lora": '`LoraConfig(rank=8, modules_to_save=["logits"])` (query, value)',
    "lora_all": '`LoraConfig(rank=8, targets="all-linear", ...)`: query, key, value, '
    "attention output, FFN intermediate and output (the `keras-adapters train` default)",
    "pfeiffer": '`PfeifferConfig(modules_to_save=["logits"])`',
    "houlsby": '`HoulsbyConfig(modules_to_save=["logits"])`',
    "parallel": '`ParallelConfig(modules_to_save=["logits"])`',
    "prefix": '`PrefixConfig(num_prefix_tokens=10, modules_to_save=["logits"])`',
    "base": "no adapter",
    "lora_unmerged": "`LoraConfig(rank=8)`, branch computed at every call",
    "lora_merged": "`LoraConfig(rank=8)` after `merge_adapters`",
}
# "pfeiffer" is both a training method and an inference configuration.
INFERENCE_SETUPS = {**SETUPS, "pfeiffer": "`PfeifferConfig()` bottleneck after the FFN"}

ALL_LINEAR = "all-linear"  # every projection slot of the backbone's spec

# The real backbone, and the tiny random one of `--quick`.
REAL_PRESET = "minilm_l6"
QUICK_BACKBONE = dict(
    vocabulary_size=200,
    num_layers=1,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=128,
)
# MiniLM-L6's shapes (its KerasHub preset and Hugging Face `BertConfig`), for
# benchmarks that build it with random weights on both sides of a comparison.
MINILM_SHAPES = dict(
    vocabulary_size=30522,
    num_layers=6,
    num_heads=12,
    hidden_dim=384,
    intermediate_dim=1536,
    max_sequence_length=512,
)
LORA_RANK = 8
PREFIX_TOKENS = 10
ADAPTER_NAME = "bench"


def parse_names(text, valid, allow_none=False):
    """Splits `"a,b"` into names, checking each against `valid`.

    Args:
        text: comma-separated names, `"all"`, or (if `allow_none`) `"none"`.
        valid: the accepted names, in the order results are reported.
        allow_none: whether `"none"` (an empty selection) is accepted.

    Returns:
        A tuple of names in the order of `valid`.
    """
    text = text.strip()
    if text == "all":
        return tuple(valid)
    if allow_none and text == "none":
        return ()
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        extra = ", none" if allow_none else ""
        raise ValueError(
            f"Unknown names {unknown or [text]}. Valid: all{extra}, "
            f"or a comma-separated subset of {', '.join(valid)}. Received: {text!r}"
        )
    return tuple(name for name in valid if name in names)


def adapter_config(method):
    """The keras-adapters config of a method name (`"lora"`, `"pfeiffer"`, ...)."""
    import keras_adapters

    save = ["logits"]
    factories = {
        "lora": lambda: keras_adapters.LoraConfig(rank=LORA_RANK, modules_to_save=save),
        "lora_all": lambda: keras_adapters.LoraConfig(
            rank=LORA_RANK, targets=ALL_LINEAR, modules_to_save=save
        ),
        "pfeiffer": lambda: keras_adapters.PfeifferConfig(modules_to_save=save),
        "houlsby": lambda: keras_adapters.HoulsbyConfig(modules_to_save=save),
        "parallel": lambda: keras_adapters.ParallelConfig(modules_to_save=save),
        "prefix": lambda: keras_adapters.PrefixConfig(
            num_prefix_tokens=PREFIX_TOKENS, modules_to_save=save
        ),
    }
    return factories[method]()


def build_classifier(quick, seed, shapes=None):
    """A `MeanPooledTextClassifier` (2 classes, no preprocessor) on a fresh backbone.

    Args:
        quick: bool. A tiny random `BertBackbone` instead of MiniLM-L6.
        seed: int. Seeds Keras before anything is created.
        shapes: optional dict of `ExactGeluBertBackbone` arguments (e.g.
            `MINILM_SHAPES`): a backbone of these shapes with random weights
            instead of the pretrained checkpoint.

    Returns:
        A tuple `(classifier, backbone)`.
    """
    import keras
    import keras_hub

    from keras_adapters.assets import load_backbone_preset
    from keras_adapters.models import ExactGeluBertBackbone, MeanPooledTextClassifier

    keras.utils.set_random_seed(seed)
    if quick:
        backbone = keras_hub.models.BertBackbone(**QUICK_BACKBONE)
    elif shapes is not None:
        backbone = ExactGeluBertBackbone(**shapes)
    else:
        backbone, _ = load_backbone_preset(REAL_PRESET)
    classifier = MeanPooledTextClassifier(backbone, num_classes=2, preprocessor=None)
    return classifier, backbone


def build_training_model(method, quick, seed, shapes=None):
    """The classifier of a training method, with the right weights trainable."""
    import keras

    import keras_adapters

    model, backbone = build_classifier(quick, seed, shapes)
    keras.utils.set_random_seed(seed + 1)
    if method == "full":
        model.trainable = True
    elif method == "keras_lora":
        # KerasHub freezes the backbone and adds LoRA to `query`/`value`; the
        # head lives outside the backbone and stays trainable. Say so anyway.
        backbone.enable_lora(LORA_RANK)
        model.get_layer("logits").trainable = True
    else:
        keras_adapters.add_adapter(
            model, adapter_config(method), adapter_name=ADAPTER_NAME, verbose=False
        )
    return model


def build_inference_model(name, quick, seed):
    """The classifier of an inference configuration (`"base"`, `"lora_merged"`, ...)."""
    import keras

    import keras_adapters

    model, _ = build_classifier(quick, seed)
    keras.utils.set_random_seed(seed + 1)
    if name in ("lora_unmerged", "lora_merged"):
        keras_adapters.add_adapter(
            model, adapter_config("lora"), adapter_name=ADAPTER_NAME, verbose=False
        )
        if name == "lora_merged":
            keras_adapters.merge_adapters(model)
    elif name == "pfeiffer":
        keras_adapters.add_adapter(
            model, adapter_config("pfeiffer"), adapter_name=ADAPTER_NAME, verbose=False
        )
    return model


def make_batch(batch_size, sequence_length, vocabulary_size, seed):
    """A fixed, seeded batch of token ids, padding masks, segment ids and labels.

    Rows have random lengths between half and all of `sequence_length`
    (padding at the end), so mean pooling and attention see real masks.

    Returns:
        A tuple `(inputs, labels)` of a dict of int32 arrays and an int32 array.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    low = min(1000, vocabulary_size // 2)  # past BERT's special tokens
    token_ids = rng.integers(low, vocabulary_size, size=(batch_size, sequence_length))
    lengths = rng.integers(max(1, sequence_length // 2), sequence_length + 1, size=batch_size)
    padding_mask = np.arange(sequence_length)[None, :] < lengths[:, None]
    inputs = {
        "token_ids": (token_ids * padding_mask).astype("int32"),
        "padding_mask": padding_mask.astype("int32"),
        "segment_ids": np.zeros((batch_size, sequence_length), dtype="int32"),
    }
    labels = rng.integers(0, 2, size=batch_size).astype("int32")
    return inputs, labels
