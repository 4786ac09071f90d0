"""`keras-adapters train`: fine-tune, evaluate, save the adapter, export, verify."""

import datetime
import json
import math
import os
import pathlib
import time

from keras_adapters.cli import run_files
from keras_adapters.cli.causal_lm_job import train_causal_lm
from keras_adapters.cli.method_configs import (
    HEAD,
    method_config,
    with_schedule,
)
from keras_adapters.cli.run_directory import (
    STATUS,
    RunDirectory,
    data_fingerprint,
)
from keras_adapters.cli.token_classification_job import train_token_classifier
from keras_adapters.cli.train_arguments import (  # noqa: F401 (add_arguments: the command's flags)
    add_arguments,
    check_numbers,
    resolve_task_defaults,
)
from keras_adapters.cli.training_curve import plot_training_curve

WIDTH_MULTIPLE = 16  # batches are padded to a multiple of this, texts grouped by length
VERIFY_TEXTS = 16
VERIFY_ATOL = 1e-5  # served logits equal Keras logits (float32)
VERIFY_ATOL_BFLOAT16 = 5e-2  # bfloat16 keeps ~3 digits; merging reorders the rounding


def run(args):
    """Runs the whole job; every check that can fail early runs before any work."""
    from keras_adapters.assets import list_backbone_presets, list_causal_lm_presets

    causal = args.task == "causal-lm"
    resolve_task_defaults(args)
    check_numbers(args)
    config = method_config(args, modules_to_save=() if causal else HEAD)
    if args.task != "text-classification" and config is not None and config.method == "prompt":
        raise ValueError(
            f"--task {args.task} does not support prompt tuning yet (its preprocessing "
            "does not reserve the prompt's positions). Received: --method prompt"
        )
    presets = list_causal_lm_presets() if causal else list_backbone_presets()
    if args.backbone not in presets:
        raise ValueError(
            f"Unknown backbone preset for --task {args.task}. Received: --backbone="
            f"{args.backbone!r}. Valid presets: {', '.join(presets)}"
        )
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = {"causal-lm": "causal-lm-", "token-classification": "ner-"}.get(args.task, "")
    output_dir = pathlib.Path(args.output_dir or f"runs/{prefix}{args.method}-{stamp}")
    if args.task == "token-classification" and args.resume:
        raise ValueError(
            "`--resume` is supported for --task text-classification and causal-lm only (not yet "
            "token-classification). Received: --task token-classification --resume"
        )
    RunDirectory(output_dir).check(args)
    if causal:
        return train_causal_lm(args, config, output_dir)
    if args.task == "token-classification":
        return train_token_classifier(args, config, output_dir)
    return _train(args, config, output_dir, args.learning_rate)


def _train(args, config, output_dir, learning_rate):
    import keras
    import numpy as np

    import keras_adapters
    from keras_adapters.cli.resumable_fit import epoch_order, resumable_fit
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
    texts, labels = data.train.texts[:num_train], np.asarray(data.train.labels[:num_train])
    # Length groups make the batch count depend on the lengths (not on their order): count once.
    steps_per_epoch = int(_bucketed(texts, labels, preprocessor, args.batch_size).cardinality())

    def train_epoch(epoch):
        order = epoch_order(num_train, args.seed, epoch)
        return _bucketed(
            [texts[i] for i in order],
            labels[order],
            preprocessor,
            args.batch_size,
            batches=steps_per_epoch,
        )

    validation = _bucketed(data.validation.texts, data.validation.labels, preprocessor, 64)
    test = _bucketed(data.test.texts, data.test.labels, preprocessor, 64)
    steps = steps_per_epoch * args.epochs
    config = with_schedule(config, steps)
    if config is None:
        trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
        total = sum(math.prod(v.shape) for v in model.weights)
        print(f"full fine-tuning: trainable {trainable:,} of {total:,} parameters (100%)")
    else:
        report = keras_adapters.add_adapter(model, config, run_files.ADAPTER_NAME)
        trainable, total = report.trainable, report.total
    if model.preprocessor is not preprocessor:  # prompt tuning reserves its positions there
        preprocessor = model.preprocessor  # train_epoch reads it (and steps_per_epoch) when called
        steps_per_epoch = int(_bucketed(texts, labels, preprocessor, args.batch_size).cardinality())
        validation = _bucketed(data.validation.texts, data.validation.labels, preprocessor, 64)
        test = _bucketed(data.test.texts, data.test.labels, preprocessor, 64)
        steps = steps_per_epoch * args.epochs
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
    run = RunDirectory(output_dir)
    run.start(args, data_fingerprint(texts, labels))
    model.preprocessor = None  # the datasets are tokenized and packed already
    try:
        print("Held-out accuracy before training:")
        untrained = run.remembered(
            "untrained", lambda: model.evaluate(test, verbose=args.verbose, return_dict=True)
        )
        fit_started = time.time()
        steps_log, resumed_from = resumable_fit(
            model,
            train_epoch,
            run,
            epochs=args.epochs,
            steps_per_epoch=steps_per_epoch,
            every=args.checkpoint_every,
            validation_data=validation,
            verbose=args.verbose,
        )
        train_seconds = time.time() - fit_started
        print("Held-out (test split) accuracy after training:")
        tested = model.evaluate(test, verbose=args.verbose, return_dict=True)
    finally:
        model.preprocessor = preprocessor

    # Replaces the directory of the run (its status.json and checkpoint) in one rename.
    with atomic_directory(output_dir, marker=STATUS) as tmp:
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
        curve_history = steps_log.history
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
            "resumed_from_step": resumed_from,
            "export_seconds": export_seconds,
            "export": exported,
            "label_names": list(data.label_names),
            "cpu_count": os.cpu_count(),
            "total_seconds": time.time() - started,
        }
        (tmp / run_files.METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    _print_summary(metrics, output_dir)
    return 0


def _bucketed(texts, labels, preprocessor, batch_size, batches=None):
    """Batches of similar-length texts, padded to a multiple of 16, every batch full-size.

    `batches` is the batch count when known (the same texts in another order).
    """
    import tensorflow as tf

    from keras_adapters.data import length_bucketed_dataset

    dataset = length_bucketed_dataset(
        texts, labels, preprocessor, batch_size, width_multiple=WIDTH_MULTIPLE, full_batches=True
    )
    # Length groups make the batch count depend on the lengths: count it once,
    # so progress bars and the schedule know the length of an epoch.
    if batches is None:
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
