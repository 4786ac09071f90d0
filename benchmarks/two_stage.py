"""Two-stage training in a low-resource setting: a masked-LM domain adapter under a task adapter.

Stage 1 trains a Pfeiffer adapter ("domain") on the unlabelled training
texts of the main job's data with the backbone's own pre-training objective,
masked language modelling (`keras_adapters.models.masked_lm_for`: KerasHub's
`BertMaskedLM` around the same backbone). The all-MiniLM-L6-v2 checkpoint
ships no masked-LM head, so the head starts untrained and trains along with
the adapter; it is not carried to stage 2 (the adapter is saved from the
backbone, without it).

Stage 2 trains a task adapter (Pfeiffer, same size) and the classifier head
on a small labelled subset, once with the domain adapter stacked under it
and frozen (`Stack("domain", "task")`, `train=["task"]`) and once without
it, with the same seed, steps, data order, initial task adapter and head,
and the same trainable parameter count; both are scored on the main job's
held-out test split. The results go to the "Two-stage training (low
resource)" section of docs/results.md.

Usage:
    python benchmarks/two_stage.py                  # MiniLM, rotten_tomatoes, 3 seeds (~40 min on 2 cores)
    python benchmarks/two_stage.py --seeds 1337 --labelled-examples 500
    python benchmarks/two_stage.py --quick --output /tmp/results.md   # tiny model, for tests
"""

import argparse
import json
import os
import pathlib
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_machine  # noqa: E402
import two_stage_setups  # noqa: E402
from compare_methods import write  # noqa: E402

HEADING = "## Two-stage training (low resource)"
ROOT = pathlib.Path(__file__).resolve().parents[1]
WITHOUT, WITH = "task adapter only", "stage 1 + task adapter"
WIDTH_MULTIPLE = 16  # as the main job: batches grouped by length, padded to multiples of 16


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny random model, synthetic text")
    parser.add_argument("--labelled-examples", type=int, default=None, help="(default: 300)")
    parser.add_argument("--stage1-steps", type=int, default=None, help="(default: 200)")
    parser.add_argument("--stage2-epochs", type=int, default=None, help="(default: 10)")
    parser.add_argument("--seeds", default=None, help="comma-separated (default: 1337,1,2)")
    parser.add_argument("--stage1-seed", type=int, default=1337)
    parser.add_argument("--batch-size", type=int, default=None, help="(default: 32)")
    parser.add_argument("--sequence-length", type=int, default=None, help="(default: 48)")
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="both stages")
    parser.add_argument("--reduction-factor", type=int, default=None, help="(default: 16)")
    parser.add_argument("--no-xla", dest="xla", action="store_false", default=None)
    parser.add_argument("--runs-dir", default=None, help="(default: runs/two_stage)")
    parser.add_argument(
        "--output", default=None, help="results file (default: docs/results.md; --quick: none)"
    )
    args = parser.parse_args(argv)
    defaults = two_stage_setups.QUICK if args.quick else two_stage_setups.REAL
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.seeds = [int(s) for s in str(args.seeds).split(",")]
    if args.output is None and not args.quick:
        args.output = str(ROOT / "docs" / "results.md")
    if args.runs_dir is None:
        args.runs_dir = str(ROOT / "runs" / ("two_stage_quick" if args.quick else "two_stage"))
    for name in ("labelled_examples", "stage1_steps", "stage2_epochs", "batch_size"):
        if getattr(args, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise SystemExit(
                f"`{flag}` must be a positive integer. Received: {getattr(args, name)}"
            )
    return args


def _schedule_optimizer(steps, learning_rate):
    """The main job's optimizer: AdamW, linear warm-up for 1/16 of the steps, cosine decay."""
    import keras

    warmup = max(1, steps // 16)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - warmup), warmup_target=learning_rate, warmup_steps=warmup
    )
    return keras.optimizers.AdamW(schedule, weight_decay=0.01)


def _loss():
    import keras

    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )


def _pfeiffer(args, **kwargs):
    import keras_adapters

    return keras_adapters.PfeifferConfig(reduction_factor=args.reduction_factor, **kwargs)


def run_stage1(setup, args, adapter_dir):
    """Trains the domain adapter (and a new masked-LM head) on unlabelled training texts."""
    import keras
    import tensorflow as tf

    import keras_adapters

    keras.backend.clear_session()
    backbone, tokenizer = setup.load_backbone()
    keras.utils.set_random_seed(args.stage1_seed)
    masked_lm = keras_adapters.models.masked_lm_for(
        backbone, tokenizer, sequence_length=args.sequence_length
    )
    report = keras_adapters.add_adapter(backbone, _pfeiffer(args), "domain", verbose=False)
    head = sum(int(v.numpy().size) for v in masked_lm.get_layer("mlm_head").trainable_weights)
    masked_lm.compile(
        optimizer=_schedule_optimizer(args.stage1_steps, args.learning_rate),
        loss=_loss(),
        weighted_metrics=["accuracy"],
        jit_compile=args.xla,
    )
    texts = list(setup.data.train.texts)  # the labels are not used
    train = (
        tf.data.Dataset.from_tensor_slices(texts)
        .shuffle(len(texts), seed=args.stage1_seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
    )
    held_out = tf.data.Dataset.from_tensor_slices(list(setup.data.validation.texts))
    held_out = held_out.batch(args.batch_size, drop_remainder=True).cache()
    started = time.time()
    history = masked_lm.fit(train, steps_per_epoch=args.stage1_steps, epochs=1, verbose=2)
    seconds = time.time() - started
    with_adapter = masked_lm.evaluate(held_out, verbose=0, return_dict=True)
    keras_adapters.disable_adapters(backbone)
    without_adapter = masked_lm.evaluate(held_out, verbose=0, return_dict=True)
    keras_adapters.enable_adapters(backbone)
    keras_adapters.save_adapter(backbone, adapter_dir, "domain")  # the adapter only, no head
    return {
        "steps": args.stage1_steps,
        "texts": len(texts),
        "adapter_parameters": report.adapters["domain"][1],
        "head_parameters": head,
        "final_train_loss": float(history.history["loss"][-1]),
        "held_out_texts": int(held_out.reduce(0, lambda n, b: n + tf.shape(b)[0])),
        "held_out_loss": float(with_adapter["loss"]),
        "held_out_accuracy": float(with_adapter["accuracy"]),
        "held_out_accuracy_adapter_disabled": float(without_adapter["accuracy"]),
        "train_seconds": seconds,
    }


def run_stage2(setup, args, seed, adapter_dir):
    """Task adapter + head on the labelled subset; stacked on the frozen domain adapter if given."""
    import keras
    import keras_hub
    import numpy as np

    import keras_adapters
    from keras_adapters.data import length_bucketed_dataset

    keras.backend.clear_session()
    backbone, tokenizer = setup.load_backbone()
    keras.utils.set_random_seed(seed)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=args.sequence_length
    )
    model = keras_adapters.models.MeanPooledTextClassifier(
        backbone, num_classes=setup.data.num_labels, preprocessor=preprocessor
    )
    # The task adapter and head first, so both conditions draw the same initial values.
    keras_adapters.add_adapter(
        model, _pfeiffer(args, modules_to_save=["logits"]), "task", verbose=False
    )
    initial = {v.path: np.array(v.numpy()) for v in model.trainable_weights}
    if adapter_dir is not None:
        keras_adapters.load_adapter(model, adapter_dir, adapter_name="domain", activate=False)
        keras_adapters.set_active_adapters(
            model, keras_adapters.Stack("domain", "task"), train=["task"]
        )
    domain = {v.path: np.array(v.numpy()) for v in model.weights if "/domain/" in v.path}
    if sorted(v.path for v in model.trainable_weights) != sorted(initial):
        raise RuntimeError("The trainable weights differ from the task adapter's and head's.")
    n = args.labelled_examples
    train = length_bucketed_dataset(
        setup.data.train.texts[:n],
        setup.data.train.labels[:n],
        preprocessor,
        args.batch_size,
        shuffle=True,
        seed=seed,
        width_multiple=WIDTH_MULTIPLE,
        full_batches=True,
    )
    test = length_bucketed_dataset(
        setup.data.test.texts,
        setup.data.test.labels,
        preprocessor,
        64,
        width_multiple=WIDTH_MULTIPLE,
        full_batches=True,
    )
    steps = int(train.reduce(0, lambda count, *_: count + 1)) * args.stage2_epochs
    model.compile(
        optimizer=_schedule_optimizer(steps, args.learning_rate),
        loss=_loss(),
        weighted_metrics=["accuracy"],
        jit_compile=args.xla,
    )
    model.preprocessor = None  # the datasets are tokenized and packed already
    started = time.time()
    model.fit(train, epochs=args.stage2_epochs, verbose=0, shuffle=False)
    seconds = time.time() - started
    tested = model.evaluate(test, verbose=0, return_dict=True)
    domain_unchanged = all(
        np.array_equal(v.numpy(), domain[v.path]) for v in model.weights if v.path in domain
    )
    return {
        "seed": seed,
        "labelled_examples": n,
        "steps": steps,
        "trainable_parameters": int(sum(a.size for a in initial.values())),
        "initial_checksum": float(sum(np.abs(a).sum() for a in initial.values())),
        "test_accuracy": float(tested["accuracy"]),
        "test_loss": float(tested["loss"]),
        "train_seconds": seconds,
        "domain_adapter_parameters": int(sum(a.size for a in domain.values())),
        "domain_adapter_unchanged": domain_unchanged if domain else None,
    }


def _spread(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {std:.4f} (min {min(values):.4f}, max {max(values):.4f})"


def render(results):
    stage1, runs, setup = results["stage1"], results["stage2"], results["setup"]
    machine = results["machine"]
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["condition"]] = run
    first = runs[0]
    lines = [
        HEADING,
        "",
        f"Measured {machine['Date']} on {machine['CPU']} ({machine['Cores']} cores; load "
        f"average at the start {machine['Load average at start (1/5/15 min)']}: the machine "
        "was shared with other jobs, so times are slower and noisier than on an idle one), "
        f"Python {machine['Python']}, keras-adapters {machine['keras-adapters']}.",
        f"Data: {setup['data']}; backbone: {setup['backbone']}; sequence length "
        f"{setup['sequence_length']}, batch {setup['batch_size']}, learning rate "
        f"{setup['learning_rate']:g} (AdamW, warm-up 1/16, cosine), XLA "
        f"{'on' if setup['xla'] else 'off'}.",
        "",
        f"Stage 1: Pfeiffer adapter ({stage1['adapter_parameters']:,} parameters) and a new "
        f"masked-LM head ({stage1['head_parameters']:,} parameters, not kept) trained for "
        f"{stage1['steps']} steps on the {stage1['texts']:,} unlabelled training texts "
        f"(seed {setup['stage1_seed']}, {stage1['train_seconds']:.0f} s). Masked-token accuracy "
        f"on {stage1['held_out_texts']:,} validation texts: "
        f"{stage1['held_out_accuracy']:.3f} (loss {stage1['held_out_loss']:.2f}); with the "
        f"adapter disabled under the same head: "
        f"{stage1['held_out_accuracy_adapter_disabled']:.3f}.",
        "",
        f"Stage 2: {first['labelled_examples']} labelled training examples, "
        f"{first['steps']} steps, task adapter + head = {first['trainable_parameters']:,} "
        f"trainable parameters in both columns; test split of {setup['test_examples']:,} texts.",
        "",
        f"| seed | {WITHOUT} | {WITH} | difference | test loss, without / with "
        "| train time (s), without / with |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    differences = []
    for seed, pair in by_seed.items():
        a, b = pair[WITHOUT], pair[WITH]
        differences.append(b["test_accuracy"] - a["test_accuracy"])
        lines.append(
            f"| {seed} | {a['test_accuracy']:.4f} | {b['test_accuracy']:.4f} | "
            f"{differences[-1]:+.4f} | {a['test_loss']:.3f} / {b['test_loss']:.3f} | "
            f"{a['train_seconds']:.0f} / {b['train_seconds']:.0f} |"
        )
    means = {c: [p[c]["test_accuracy"] for p in by_seed.values()] for c in (WITHOUT, WITH)}
    better = sum(d > 0 for d in differences)
    lines += [
        "",
        f"Mean ± standard deviation over {len(by_seed)} seeds: {WITHOUT} {_spread(means[WITHOUT])}; "
        f"{WITH} {_spread(means[WITH])}; difference {_spread(differences)}. "
        f"Stage 1 helped in {better} of {len(differences)} seeds. The frozen domain adapter was "
        f"bit-for-bit unchanged after stage 2 in every run: "
        f"{all(r['domain_adapter_unchanged'] for r in runs if r['condition'] == WITH)}.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    setup = two_stage_setups.quick_setup(args) if args.quick else two_stage_setups.real_setup(args)
    runs_dir = pathlib.Path(args.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": bench_machine.machine_info(),
        "setup": {
            "data": setup.description,
            "backbone": setup.backbone_name,
            "test_examples": len(setup.data.test),
            **{k: v for k, v in vars(args).items() if k not in ("output", "runs_dir")},
        },
    }
    print("Stage 1: masked-LM domain adapter", flush=True)
    results["stage1"] = run_stage1(setup, args, runs_dir / "domain_adapter")
    results["stage2"] = []
    for seed in args.seeds:
        for condition, adapter_dir in ((WITHOUT, None), (WITH, runs_dir / "domain_adapter")):
            print(f"Stage 2, seed {seed}: {condition}", flush=True)
            run = {"condition": condition, **run_stage2(setup, args, seed, adapter_dir)}
            results["stage2"].append(run)
            print(json.dumps(run), flush=True)
        pair = results["stage2"][-2:]
        if pair[0]["initial_checksum"] != pair[1]["initial_checksum"]:
            raise RuntimeError(f"Seed {seed}: the two conditions started from different weights.")
    (runs_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    section = render(results)
    print(section)
    if args.output:
        write(pathlib.Path(args.output), section, HEADING)


if __name__ == "__main__":
    main()
