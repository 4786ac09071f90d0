"""`keras-adapters train`: fine-tune, evaluate, save the adapter, export, verify."""

import datetime
import json
import math
import os
import pathlib
import time

from keras_adapters.cli import run_files
from keras_adapters.cli.causal_lm_job import add_causal_lm_arguments, train_causal_lm
from keras_adapters.cli.method_configs import (
    HEAD,
    add_method_arguments,
    method_config,
    with_schedule,
)
from keras_adapters.cli.training_curve import StepLog, plot_training_curve

TASKS = ("text-classification", "causal-lm")
# Defaults that depend on the task; flags left unset take these.
TASK_DEFAULTS = {
    "text-classification": dict(
        backbone="minilm_l6",
        sequence_length=48,
        batch_size=32,
        train_examples=0,
        adapter_learning_rate=3e-3,
        full_learning_rate=5e-5,
    ),
    "causal-lm": dict(
        backbone="smollm2_135m_instruct",
        sequence_length=104,
        batch_size=8,
        train_examples=1200,
        adapter_learning_rate=1e-3,
        full_learning_rate=2e-5,
    ),
}
WIDTH_MULTIPLE = 16  # batches are padded to a multiple of this, texts grouped by length
VERIFY_TEXTS = 16
VERIFY_ATOL = 1e-5  # served logits equal Keras logits (float32)
VERIFY_ATOL_BFLOAT16 = 5e-2  # bfloat16 keeps ~3 digits; merging reorders the rounding


def add_arguments(parser):
    parser.add_argument(
        "--task",
        default="text-classification",
        choices=TASKS,
        help="text-classification: an encoder and a classifier head (default); causal-lm: a "
        "decoder LLM answering instruction prompts built from the labelled text, scored by the "
        "likelihood of each label word",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default="rotten_tomatoes",
        help="dataset preset, a .csv/.jsonl file, or tfds:NAME (default: rotten_tomatoes)",
    )
    data.add_argument(
        "--text-column", default="text", help="text column of a CSV/JSONL file (default: text)"
    )
    data.add_argument(
        "--label-column", default="label", help="label column of a CSV/JSONL file (default: label)"
    )
    data.add_argument(
        "--data-dir",
        default=None,
        help="TensorFlow Datasets data directory (tfds: sources; nothing is downloaded)",
    )
    data.add_argument(
        "--split-seed",
        type=int,
        default=1337,
        help="seed of the fixed train/validation/test split (default: 1337)",
    )
    data.add_argument(
        "--train-examples",
        type=int,
        default=None,
        help="number of training examples used, 0 for all (default: 0, the whole train split; "
        "causal-lm: 1200)",
    )
    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--backbone",
        default=None,
        help="backbone preset (default: minilm_l6; causal-lm: smollm2_135m_instruct)",
    )
    model.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="tokens per text, > 0 (default: 48; causal-lm: 104, prompt and answer)",
    )
    model.add_argument("--batch-size", type=int, default=None, help="(default: 32; causal-lm: 8)")
    model.add_argument("--epochs", type=int, default=1, help="(default: 1)")
    model.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (default: 3e-3 for adapters, 5e-5 for full; causal-lm: 1e-3 "
        "and 2e-5)",
    )
    model.add_argument(
        "--seed",
        type=int,
        default=1337,
        help="seeds new weights, dropout and shuffling (default: 1337)",
    )
    model.add_argument(
        "--no-xla",
        dest="xla",
        action="store_false",
        help="do not compile with XLA (jit_compile=False)",
    )
    model.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_bfloat16 compute, float32 adapter weights",
    )
    add_method_arguments(parser)
    add_causal_lm_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-dir", default=None, help="where to write the run (default: runs/<method>-<time>)"
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output directory that holds a previous run",
    )
    output.add_argument(
        "--cache-dir",
        default=None,
        help="asset cache (default: $KERAS_ADAPTERS_CACHE or ~/.cache/keras_adapters)",
    )
    output.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Keras progress output: 0 silent, 1 bars, 2 one line per epoch",
    )


def resolve_task_defaults(args):
    """Fills the flags left unset with the task's defaults."""
    defaults = TASK_DEFAULTS[args.task]
    for name in ("backbone", "sequence_length", "batch_size", "train_examples"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    if args.learning_rate is None:
        full = args.method == "full"
        args.learning_rate = defaults["full_learning_rate" if full else "adapter_learning_rate"]


def _check_numbers(args):
    for name in ("sequence_length", "batch_size", "epochs"):
        value = getattr(args, name)
        if value <= 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"`{flag}` must be a positive integer. Received: {flag}={value}")
    if args.train_examples < 0:
        raise ValueError(
            f"`--train-examples` must be >= 0 (0 = all). Received: --train-examples={args.train_examples}"
        )
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ValueError(
            f"`--learning-rate` must be > 0. Received: --learning-rate={args.learning_rate}"
        )


def run(args):
    """Runs the whole job; every check that can fail early runs before any work."""
    from keras_adapters.assets import list_backbone_presets, list_causal_lm_presets
    from keras_adapters.saving.atomic_directory import check_replaceable

    causal = args.task == "causal-lm"
    resolve_task_defaults(args)
    _check_numbers(args)
    config = method_config(args, modules_to_save=() if causal else HEAD)
    presets = list_causal_lm_presets() if causal else list_backbone_presets()
    if args.backbone not in presets:
        raise ValueError(
            f"Unknown backbone preset for --task {args.task}. Received: --backbone="
            f"{args.backbone!r}. Valid presets: {', '.join(presets)}"
        )
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = "causal-lm-" if causal else ""
    output_dir = pathlib.Path(args.output_dir or f"runs/{prefix}{args.method}-{stamp}")
    check_replaceable(output_dir, args.overwrite, run_files.RUN_CONFIG, "--output-dir")
    if causal:
        return train_causal_lm(args, config, output_dir)
    return _train(args, config, output_dir, args.learning_rate)


def _train(args, config, output_dir, learning_rate):
    import keras
    import numpy as np

    import keras_adapters
    from keras_adapters.data import load_text_classification
    from keras_adapters.saving.atomic_directory import atomic_directory

    started = time.time()
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    data = load_text_classification(
        args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        seed=args.split_seed,
        cache_dir=args.cache_dir,
        data_dir=args.data_dir,
    )
    print(data.summary())
    limit = args.train_examples or None
    num_train = min(limit or len(data.train.texts), len(data.train.texts))
    model = run_files.build_classifier(
        args.backbone, args.sequence_length, data.num_labels, args.cache_dir
    )
    preprocessor = model.preprocessor
    train = _bucketed(data.train, num_train, preprocessor, args.batch_size, args.seed, shuffle=True)
    validation = _bucketed(data.validation, None, preprocessor, 64, args.seed)
    test = _bucketed(data.test, None, preprocessor, 64, args.seed)
    steps = int(train.cardinality()) * args.epochs
    config = with_schedule(config, steps)
    if config is None:
        trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
        total = sum(math.prod(v.shape) for v in model.weights)
        print(f"full fine-tuning: trainable {trainable:,} of {total:,} parameters (100%)")
    else:
        report = keras_adapters.add_adapter(model, config, run_files.ADAPTER_NAME)
        trainable, total = report.trainable, report.total
    warmup = max(1, steps // 16)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - warmup, warmup_target=learning_rate, warmup_steps=warmup
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        metrics=[],  # the task's default accuracy would count the zero-weight padding rows
        weighted_metrics=["accuracy"],
        jit_compile=args.xla,
    )
    model.preprocessor = None  # the datasets are tokenized and packed already
    try:
        print("Held-out accuracy before training:")
        untrained = model.evaluate(test, verbose=args.verbose, return_dict=True)
        fit_started = time.time()
        steps_log = StepLog()
        history = model.fit(
            train,
            validation_data=validation,
            epochs=args.epochs,
            verbose=args.verbose,
            callbacks=[steps_log],
            shuffle=False,  # the dataset shuffles itself, seeded, every epoch
        )
        train_seconds = time.time() - fit_started
        print("Held-out (test split) accuracy after training:")
        tested = model.evaluate(test, verbose=args.verbose, return_dict=True)
    finally:
        model.preprocessor = preprocessor

    with atomic_directory(output_dir, overwrite=args.overwrite, marker=run_files.RUN_CONFIG) as tmp:
        if config is None:
            model.save_weights(tmp / run_files.FULL_WEIGHTS)
        else:
            if config.folded() is not None:
                keras_adapters.eject_prefix(model, run_files.ADAPTER_NAME)
            keras_adapters.save_adapter(model, tmp / run_files.ADAPTER_DIR)
        export_started = time.time()
        atol = VERIFY_ATOL_BFLOAT16 if args.mixed_precision else VERIFY_ATOL
        exported = _export_and_verify(model, data, tmp / run_files.SAVED_MODEL_DIR, atol)
        export_seconds = time.time() - export_started
        run_files.write_run_config(
            tmp,
            backbone_preset=args.backbone,
            sequence_length=args.sequence_length,
            label_names=list(data.label_names),
            method=args.method,
            adapter_name=run_files.ADAPTER_NAME,
            adapter_config=None if config is None else config.get_config(),
            data_source=args.data,
            seed=args.seed,
            split_seed=args.split_seed,
        )
        curve_history = {k: [float(x) for x in v] for k, v in history.history.items()}
        title = f"{args.method} on {args.backbone} / {args.data}"
        plot_training_curve(steps_log.steps, curve_history, tmp / run_files.CURVE, title)
        metrics = {
            "method": args.method,
            "backbone": args.backbone,
            "data": args.data,
            "train_examples": num_train,
            "validation_examples": len(data.validation.texts),
            "test_examples": len(data.test.texts),
            "sequence_length": args.sequence_length,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "learning_rate": learning_rate,
            "seed": args.seed,
            "split_seed": args.split_seed,
            "xla": args.xla,
            "mixed_precision": args.mixed_precision,
            "adapter_config": None if config is None else config.get_config(),
            "trainable_parameters": int(trainable),
            "total_parameters": int(total),
            "trainable_percent": 100.0 * trainable / total,
            "history": curve_history,
            "steps": steps_log.steps,
            "validation_accuracy": curve_history["val_accuracy"][-1],
            "test_accuracy": float(tested["accuracy"]),
            "test_loss": float(tested["loss"]),
            "untrained_test_accuracy": float(untrained["accuracy"]),
            "majority_class_test_accuracy": float(
                np.bincount(data.test.labels).max() / len(data.test.labels)
            ),
            "train_seconds": train_seconds,
            "export_seconds": export_seconds,
            "export": exported,
            "label_names": list(data.label_names),
            "cpu_count": os.cpu_count(),
            "total_seconds": time.time() - started,
        }
        (tmp / run_files.METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    _print_summary(metrics, output_dir)
    return 0


def _bucketed(split, limit, preprocessor, batch_size, seed, shuffle=False):
    """Batches of similar-length texts, padded to a multiple of 16, every batch full-size."""
    import tensorflow as tf

    from keras_adapters.data import length_bucketed_dataset

    count = len(split.texts) if limit is None else limit
    dataset = length_bucketed_dataset(
        split.texts[:count],
        split.labels[:count],
        preprocessor,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        width_multiple=WIDTH_MULTIPLE,
        full_batches=True,
    )
    # Length groups make the batch count depend on the lengths: count it once,
    # so progress bars and the schedule know the length of an epoch.
    batches = int(dataset.reduce(0, lambda total, *_: total + 1))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def _export_and_verify(model, data, path, atol):
    from keras_adapters.export import export_text_classifier, verify_saved_model

    export_text_classifier(model, path, label_names=list(data.label_names), adapters="merged")
    texts = list(data.test.texts[:VERIFY_TEXTS])
    expected = model.predict(texts, verbose=0)
    outputs = verify_saved_model(path, texts, expected_logits=expected, atol=atol)
    max_diff = float(abs(outputs["logits"] - expected).max())
    return {
        "verified_in_fresh_process": outputs.fresh_process,
        "verifier_process": outputs.process,
        "texts": len(texts),
        "max_abs_logit_diff": max_diff,
        "tolerance": atol,
    }


def _print_summary(metrics, output_dir):
    print(
        f"\n{metrics['method']}: test accuracy {metrics['test_accuracy']:.4f} "
        f"(before training {metrics['untrained_test_accuracy']:.4f}, majority class "
        f"{metrics['majority_class_test_accuracy']:.4f}); trained "
        f"{metrics['trainable_parameters']:,} parameters in {metrics['train_seconds']:.0f} s; "
        f"total {metrics['total_seconds']:.0f} s."
    )
    print(
        f"SavedModel verified in a fresh TensorFlow process (max logit difference "
        f"{metrics['export']['max_abs_logit_diff']:.2e})."
    )
    print(
        f"Wrote {output_dir}/: adapter/ (or model weights), metrics.json, training_curve.png, saved_model/"
    )
