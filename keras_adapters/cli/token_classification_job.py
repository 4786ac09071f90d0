"""`keras-adapters train --task token-classification`: named-entity recognition on CoNLL-2003.

An encoder with a per-token head (`keras_adapters.models.TokenClassifier`)
learns BIO tags from sentences of words: each word's tag sits on its first
word piece, the other pieces are masked out of the loss. The model is scored
on the test split before and after training with entity-level precision,
recall and F1 (exact span and type, conlleval's reading of the tags), then
saved, exported as a SavedModel that takes raw text and returns entities, and
checked in a fresh TensorFlow-only process against the Keras model.
"""

import json
import math
import os
import platform
import time

from keras_adapters.cli import run_files
from keras_adapters.cli.method_configs import with_schedule
from keras_adapters.cli.training_curve import StepLog, plot_training_curve

WIDTH_MULTIPLE = 16  # training batches are padded to a multiple of this
EVAL_BATCH_SIZE = 64
VERIFY_SENTENCES = 14
# Raw text the served model must handle like the Keras model: punctuation,
# abbreviations, possessives, numbers, accents and non-Latin scripts.
VERIFY_TEXTS = [
    "Peter Blackburn flew from Zürich to the U.S. on Monday, Reuters said.",
    "Germany's Bundesbank (BUBA) left rates at 4.5% -- BONN 1996-08-22",
    "EU rejects German call to boycott British lamb.",
    "",
    "日本 Tokyo Ölkonzern São Paulo",
]
VERIFY_ATOL = 1e-4  # served logits vs Keras logits (float32; merged LoRA reorders sums)
VERIFY_ATOL_BFLOAT16 = 5e-2


def add_token_classification_arguments(parser):
    group = parser.add_argument_group("--task token-classification")
    group.add_argument(
        "--validation-examples",
        type=int,
        default=500,
        help="validation sentences (a fixed random subset) scored per epoch and after "
        "training, 0 for the whole split (default: 500)",
    )
    group.add_argument(
        "--test-examples",
        type=int,
        default=1000,
        help="test sentences (a fixed random subset) scored before and after training, 0 for "
        "the whole test split of 3,453 (default: 1000)",
    )


def train_token_classifier(args, config, output_dir):
    import keras
    import tensorflow as tf

    import keras_adapters
    from keras_adapters.data import load_token_classification, token_classification_dataset
    from keras_adapters.models import entity_scores
    from keras_adapters.saving.atomic_directory import atomic_directory

    _check_flags(args)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    data = load_token_classification(args.data, cache_dir=args.cache_dir)
    print(data.summary())
    train = _subset(data.train, args.train_examples, args.split_seed)
    validation = _subset(data.validation, args.validation_examples, args.split_seed)
    test = _subset(data.test, args.test_examples, args.split_seed)
    print(
        f"Using {len(train):,} train, {len(validation):,} validation and {len(test):,} test "
        "sentences."
    )
    model = run_files.build_token_classifier(
        args.backbone, args.sequence_length, data.tag_names, args.cache_dir
    )
    preprocessor = model.preprocessor
    tag_ids = _tag_ids(data.tag_names)

    def batches(split, batch_size, shuffle=False):
        dataset = token_classification_dataset(
            split.sentences,
            tag_ids(split),
            preprocessor,
            batch_size,
            shuffle=shuffle,
            seed=args.seed,
            width_multiple=WIDTH_MULTIPLE,
            full_batches=True,
        )
        # Length groups make the batch count depend on the lengths: count it once.
        count = int(dataset.reduce(0, lambda count, *_: count + 1))
        return dataset.apply(tf.data.experimental.assert_cardinality(count)), count

    train_batches, steps_per_epoch = batches(train, args.batch_size, shuffle=True)
    validation_batches, _ = batches(validation, EVAL_BATCH_SIZE)
    steps = steps_per_epoch * args.epochs
    config = with_schedule(config, steps)
    if config is None:
        trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
        total = sum(math.prod(v.shape) for v in model.weights)
        print(f"full fine-tuning: trainable {trainable:,} of {total:,} parameters (100%)")
    else:
        report = keras_adapters.add_adapter(model, config, run_files.ADAPTER_NAME)
        trainable, total = report.trainable, report.total
    warmup = max(1, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, steps - warmup),
        warmup_target=args.learning_rate,
        warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        jit_compile=args.xla,
    )

    def score(split):
        predicted = model.predict_tags(
            [list(words) for words in split.sentences], batch_size=EVAL_BATCH_SIZE
        )
        return entity_scores([list(tags) for tags in split.tags], predicted)

    print(f"Scoring {len(test):,} test sentences before training...")
    untrained = score(test)
    print(f"  entity F1 {untrained.f1:.4f}")
    fit_started = time.time()
    steps_log = StepLog()
    history = model.fit(
        train_batches,
        validation_data=validation_batches,
        epochs=args.epochs,
        verbose=args.verbose,
        callbacks=[steps_log],
        shuffle=False,  # the dataset shuffles itself, seeded, every epoch
    )
    train_seconds = time.time() - fit_started
    print(f"Scoring {len(test):,} test and {len(validation):,} validation sentences...")
    tested = score(test)
    validated = score(validation)
    print(tested.report())

    with atomic_directory(output_dir, overwrite=args.overwrite, marker=run_files.RUN_CONFIG) as tmp:
        if config is None:
            model.save_weights(tmp / run_files.FULL_WEIGHTS)
        else:
            if config.folded() is not None:
                keras_adapters.eject_prefix(model, run_files.ADAPTER_NAME)
            keras_adapters.save_adapter(model, tmp / run_files.ADAPTER_DIR)
        export_started = time.time()
        atol = VERIFY_ATOL_BFLOAT16 if args.mixed_precision else VERIFY_ATOL
        texts = [" ".join(words) for words in test.sentences[:VERIFY_SENTENCES]] + VERIFY_TEXTS
        exported = export_and_verify(model, tmp / run_files.SAVED_MODEL_DIR, texts, atol)
        export_seconds = time.time() - export_started
        run_files.write_run_config(
            tmp,
            task=args.task,
            backbone_preset=args.backbone,
            sequence_length=args.sequence_length,
            label_names=list(data.tag_names),  # the BIO tags, one per logit
            method=args.method,
            adapter_name=run_files.ADAPTER_NAME,
            adapter_config=None if config is None else config.get_config(),
            data_source=args.data,
            seed=args.seed,
            split_seed=args.split_seed,
        )
        curve_history = {k: [float(x) for x in v] for k, v in history.history.items()}
        title = f"{args.method} on {args.backbone} / {args.data} (word accuracy)"
        plot_training_curve(steps_log.steps, curve_history, tmp / run_files.CURVE, title)
        metrics = {
            "task": args.task,
            "method": args.method,
            "backbone": args.backbone,
            "data": args.data,
            "train_examples": len(train),
            "validation_examples": len(validation),
            "test_examples": len(test),
            "test_split_examples": len(data.test),
            "sequence_length": args.sequence_length,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
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
            "test_entity_f1": tested.f1,
            "test_entity_precision": tested.precision,
            "test_entity_recall": tested.recall,
            "test_per_type_f1": {kind: row["f1"] for kind, row in tested.per_type.items()},
            "test_word_accuracy": tested.accuracy,
            "test_scores": tested.as_dict(),
            "untrained_test_entity_f1": untrained.f1,
            "untrained_test_scores": untrained.as_dict(),
            "validation_entity_f1": validated.f1,
            "validation_scores": validated.as_dict(),
            "train_seconds": train_seconds,
            "export_seconds": export_seconds,
            "export": exported,
            "tag_names": list(data.tag_names),
            "cpu_count": os.cpu_count(),
            "cpu_model": cpu_model(),
            "total_seconds": time.time() - started,
        }
        (tmp / run_files.METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    _print_summary(metrics, output_dir)
    return 0


def export_and_verify(model, path, texts, atol, adapters="merged"):
    """Exports, calls the SavedModel in a fresh process, and compares it with the Keras model.

    The entities must be equal (type, text, character offsets) to
    `model.predict_entities`, and the per-piece logits within `atol` of
    `model.predict`.
    """
    import numpy as np

    from keras_adapters.export import call_saved_model, export_token_classifier

    export_token_classifier(model, path, adapters=adapters, overwrite=True)
    outputs = call_saved_model(path, {"texts": texts})
    expected = model.predict_entities(texts)
    served = served_entities(outputs)
    if served != expected:
        wrong = next(i for i, (a, b) in enumerate(zip(served, expected)) if a != b)
        raise AssertionError(
            f"The SavedModel's entities differ from predict_entities() on {texts[wrong]!r}: "
            f"{served[wrong]!r} != {expected[wrong]!r}"
        )
    logits = model.predict(texts, verbose=0)
    max_diff = float(np.abs(outputs["logits"] - np.asarray(logits, dtype="float32")).max())
    if not max_diff <= atol:
        raise AssertionError(
            f"The SavedModel's logits differ from the Keras model's by {max_diff:.3g} "
            f"(atol={atol:g})."
        )
    return {
        "verified_in_fresh_process": outputs.fresh_process,
        "verifier_process": outputs.process,
        "texts": len(texts),
        "entities": sum(len(row) for row in expected),
        "entities_equal_predict_entities": True,
        "max_abs_logit_diff": max_diff,
        "tolerance": atol,
    }


def served_entities(outputs):
    """The SavedModel's padded entity outputs as `predict_entities` returns them."""
    rows = []
    for index, count in enumerate(outputs["entity_counts"]):
        rows.append(
            [
                {
                    "type": outputs["entity_types"][index][j],
                    "text": outputs["entity_texts"][index][j],
                    "start": int(outputs["entity_starts"][index][j]),
                    "end": int(outputs["entity_ends"][index][j]),
                }
                for j in range(int(count))
            ]
        )
    return rows


def cpu_model():
    """The CPU's model name as `lscpu` reports it (`platform.processor()` if unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _check_flags(args):
    for name in ("validation_examples", "test_examples"):
        value = getattr(args, name)
        if value < 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"`{flag}` must be >= 0 (0 = all). Received: {flag}={value}")


def _subset(split, count, seed):
    """A fixed random subset of `count` sentences (in file order), or the whole split for 0."""
    import numpy as np

    from keras_adapters.data import TaggedSplit

    if not count or count >= len(split):
        return split
    chosen = np.sort(np.random.default_rng(seed).choice(len(split), size=count, replace=False))
    return TaggedSplit([split.sentences[i] for i in chosen], [split.tags[i] for i in chosen])


def _tag_ids(tag_names):
    import numpy as np

    index = {tag: i for i, tag in enumerate(tag_names)}

    def ids(split):
        return [np.array([index[tag] for tag in tags], dtype=np.int32) for tags in split.tags]

    return ids


def _print_summary(metrics, output_dir):
    per_type = ", ".join(f"{k} {v:.3f}" for k, v in metrics["test_per_type_f1"].items())
    print(
        f"\n{metrics['method']} on {metrics['backbone']}: test entity F1 "
        f"{metrics['test_entity_f1']:.4f} (precision {metrics['test_entity_precision']:.4f}, "
        f"recall {metrics['test_entity_recall']:.4f}; before training "
        f"{metrics['untrained_test_entity_f1']:.4f}) on {metrics['test_examples']:,} sentences; "
        f"per type {per_type}; trained {metrics['trainable_parameters']:,} parameters in "
        f"{metrics['train_seconds']:.0f} s; total {metrics['total_seconds']:.0f} s."
    )
    print(
        "SavedModel verified in a fresh TensorFlow process (entities equal predict_entities(), "
        f"max logit difference {metrics['export']['max_abs_logit_diff']:.2e})."
    )
    print(
        f"Wrote {output_dir}/: adapter/ (or model weights), metrics.json, training_curve.png, saved_model/"
    )
