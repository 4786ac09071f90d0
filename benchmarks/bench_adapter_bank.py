"""Many LoRA adapters in one SavedModel: an adapter bank against one model per adapter.

Three TF Serving SavedModels of one text classifier (MiniLM-L6 under a
`MeanPooledTextClassifier` head; `--quick`: a tiny random BERT) serve the
same batch of raw strings, each example asking for one of K adapters
(assigned round-robin), K = 1, 4, 16, 64:

- **bank**: `keras_adapters.export.export_adapter_bank` with every adapter in
  it; the whole mixed batch is one call;
- **switchable**: `export_text_classifier(..., adapters="switchable")`, one
  signature `adapter_<name>` per adapter; the batch is split by adapter and
  each part sent to its signature (what a client of that export must do);
- **merged**: `export_text_classifier` of one adapter merged into the kernels,
  called on the whole batch: the latency of a single-adapter model, the
  reference for the other two.

The SavedModels are timed in one child process that imports only
TensorFlow and TensorFlow Text (as TF Serving loads them), taking turns call
by call so that the machine's load hits them alike: first calls, warm-up
rounds, then the median of the timed rounds. The memory table gives the bytes
of variables (and graph) each export needs and what one more adapter adds.
The tables go to the "Latest results: many adapters in one SavedModel"
section of `docs/benchmarks.md`.

Usage:

```bash
KERAS_BACKEND=tensorflow python benchmarks/bench_adapter_bank.py
KERAS_BACKEND=tensorflow python benchmarks/bench_adapter_bank.py --quick --output /tmp/bench.md
```
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_machine  # noqa: E402

HEADING = "## Latest results: many adapters in one SavedModel"
TARGET_RATIO = 1.3
TARGET_K = 16
WORDS = (
    "the a film movie plot story actor scene was is not very quite rather truly gripping funny "
    "dull slow great bad good boring moving clever long short , . !"
).split()


# === Building the adapters and the SavedModels (parent process) ===


def _classifier(quick, sequence_length):
    import keras
    import keras_hub

    import keras_adapters.assets
    import keras_adapters.models

    keras.utils.set_random_seed(0)
    if quick:
        vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
        tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary)
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(vocabulary),
            num_layers=2,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_sequence_length=sequence_length,
        )
    else:
        backbone, tokenizer = keras_adapters.assets.load_backbone_preset("minilm_l6")
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    return keras_adapters.models.MeanPooledTextClassifier(
        backbone, num_classes=2, preprocessor=preprocessor
    )


def _ranks(options):
    ranks = options["ranks"]
    return [ranks[i % len(ranks)] for i in range(max(options["ks"]))]


def build(folder, options):
    """Saves the adapters and writes the three SavedModels; returns their paths and sizes."""
    import numpy as np

    import keras_adapters
    import keras_adapters.export

    folder = pathlib.Path(folder)
    classifier = _classifier(options["quick"], options["sequence_length"])
    head = classifier.get_layer("logits")
    base_head = [v.numpy() for v in head.weights]
    rng = np.random.default_rng(0)
    names = [f"adapter_{i}" for i in range(max(options["ks"]))]
    for name, rank in zip(names, _ranks(options)):
        config = keras_adapters.LoraConfig(rank=rank, alpha=2 * rank, modules_to_save=["logits"])
        keras_adapters.add_adapter(classifier, config, name, verbose=False)
        for variable in classifier.weights:
            if f"/lora/{name}/" in variable.path or variable.path.startswith("logits/"):
                variable.assign(rng.normal(scale=0.05, size=variable.shape).astype("float32"))
        keras_adapters.save_adapter(classifier, folder / "adapters" / name, name)
        keras_adapters.delete_adapter(classifier, name)
    for variable, value in zip(head.weights, base_head):
        variable.assign(value)
    labels = ["negative", "positive"]
    paths, seconds = {}, {}

    start = time.perf_counter()
    paths["bank"] = keras_adapters.export.export_adapter_bank(
        classifier,
        folder / "bank" / "1",
        label_names=labels,
        adapters=[folder / "adapters" / name for name in names],
        max_adapters=len(names),
        max_rank=max(options["ranks"]),
    )
    seconds["bank"] = time.perf_counter() - start

    keras_adapters.load_adapter(classifier, folder / "adapters" / names[0])
    start = time.perf_counter()
    paths["merged"] = keras_adapters.export.export_text_classifier(
        classifier, folder / "merged" / "1", label_names=labels
    )
    seconds["merged"] = time.perf_counter() - start
    for name in names[1:]:
        keras_adapters.load_adapter(classifier, folder / "adapters" / name)
    start = time.perf_counter()
    paths["switchable"] = keras_adapters.export.export_text_classifier(
        classifier, folder / "switchable" / "1", label_names=labels, adapters="switchable"
    )
    seconds["switchable"] = time.perf_counter() - start
    metadata = json.loads(
        (paths["bank"] / "assets.extra" / "keras_adapters_export.json").read_text()
    )
    lora_bytes = [
        4 * sum(int(np.prod(shape)) for key, shape in _saved_shapes(folder, name).items()
                if not key.startswith("modules_to_save/"))
        for name in names
    ]  # fmt: skip
    return {
        "paths": {kind: str(path) for kind, path in paths.items()},
        "export_s": seconds,
        "sizes": {kind: _sizes(path) for kind, path in paths.items()},
        "bank_bytes_per_slot": metadata["bank"]["bytes_per_slot"],
        "lora_bytes_per_adapter": sum(lora_bytes) / len(lora_bytes),
        "head_bytes": 4 * sum(int(np.prod(v.shape)) for v in head.weights),
        "model_parameters": int(sum(np.prod(v.shape) for v in classifier.weights))
        - int(sum(np.prod(v.shape) for v in classifier.weights if "/lora/" in v.path)),
        "adapters": len(names),
    }


def _saved_shapes(folder, name):
    config = json.loads((folder / "adapters" / name / "adapter_config.json").read_text())
    return config["weights"]


def _sizes(path):
    path = pathlib.Path(path)
    variables = sum(f.stat().st_size for f in (path / "variables").iterdir())
    return {"variables": variables, "graph": (path / "saved_model.pb").stat().st_size}


# === Timing one SavedModel (child process: TensorFlow only) ===


def _batch(options):
    import numpy as np

    rng = np.random.default_rng(1)
    texts = [
        " ".join(rng.choice(WORDS, size=int(rng.integers(6, options["sequence_length"]))))
        for _ in range(options["batch_size"])
    ]
    return texts


def _callables(loaded, kind, k, texts):
    """A function that serves the whole batch with `kind`, example i asking for adapter i mod k."""
    import numpy as np
    import tensorflow as tf

    adapters = [f"adapter_{i % k}" for i in range(len(texts))]
    text_tensor = tf.constant(texts)
    serve = loaded.signatures["serving_default"]
    if kind == "bank":
        adapter_tensor = tf.constant(adapters)
        return lambda: serve(texts=text_tensor, adapter=adapter_tensor)["logits"].numpy()
    if kind == "merged":
        return lambda: serve(texts=text_tensor)["logits"].numpy()
    groups = {}
    for index, name in enumerate(adapters):
        groups.setdefault(name, []).append(index)
    parts = [
        (loaded.signatures[f"adapter_{name}"], tf.constant([texts[i] for i in indices]), indices)
        for name, indices in groups.items()
    ]

    def call():
        logits = np.zeros((len(texts), 2), "float32")
        for signature, part, indices in parts:
            logits[indices] = signature(texts=part)["logits"].numpy()
        return logits

    return call


def measure(paths, options):
    """Latency of every configuration, in this (child) process that imports TensorFlow only.

    The configurations take turns call by call (first calls, warm-up, then
    `steps` rounds), so a change in the machine's load hits them alike and
    their ratios stay comparable.
    """
    for blocked in ("keras_hub", "keras_nlp", "keras_adapters"):
        sys.modules[blocked] = None
    import statistics

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (tokeniser ops)

    texts = _batch(options)
    loaded = {kind: tf.saved_model.load(path) for kind, path in paths.items()}
    configs = [("merged", 1)] + [
        (kind, k) for k in options["ks"] for kind in ("bank", "switchable")
    ]
    calls = {config: _callables(loaded[config[0]], *config, texts) for config in configs}
    times = {config: [] for config in configs}
    first = {}
    for config, call in calls.items():
        start = time.perf_counter()
        call()
        first[config] = time.perf_counter() - start
    for step in range(options["warmup"] + options["steps"]):
        order = configs[step % len(configs) :] + configs[: step % len(configs)]
        for config in order:
            start = time.perf_counter()
            calls[config]()
            if step >= options["warmup"]:
                times[config].append(time.perf_counter() - start)
    return [
        {
            "kind": kind,
            "k": k,
            "timing": {
                "first_s": first[(kind, k)],
                "median_s": statistics.median(times[(kind, k)]),
                "iqr_percent": _iqr_percent(times[(kind, k)]),
                "times_s": times[(kind, k)],
            },
        }
        for kind, k in configs
    ]


def _iqr_percent(times):
    """The interquartile range of `times` in percent of their median (0 for one time)."""
    import statistics

    if len(times) < 2:
        return 0.0
    p25, _, p75 = statistics.quantiles(times, n=4, method="inclusive")
    return 100 * (p75 - p25) / statistics.median(times)


def _run_child(paths, options):
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "result.json")
        command = [sys.executable, __file__, "--single", json.dumps(paths), "--result", out]
        command += ["--options", json.dumps(options)]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        if completed.returncode != 0:
            raise RuntimeError(f"The timing process failed:\n{completed.stderr[-3000:]}")
        with open(out) as handle:
            return json.load(handle)


# === Report ===


def _mib(n):
    return f"{n / 2**20:.2f}"


def render(built, results, options, machine):
    merged = next(r for r in results if r["kind"] == "merged")
    reference = merged.get("timing", {}).get("median_s")
    batch = options["batch_size"]
    model = "tiny random BERT (--quick)" if options["quick"] else "MiniLM-L6"
    lines = [
        HEADING,
        "",
        f"Measured {machine['Date']} on {machine['CPU']} ({machine['Cores']} cores, load "
        f"{machine['Load average at start (1/5/15 min)']}); keras {machine['keras']}, tensorflow "
        f"{machine['tensorflow']}, keras-hub {machine['keras-hub']}; {model} "
        f"(`MeanPooledTextClassifier`, {built['model_parameters']:,} parameters).",
        "",
        f"One batch of {batch} raw strings (sequence length {options['sequence_length']}), "
        f"example i asking for adapter `i mod K`; {built['adapters']} LoRA adapters on query "
        f"and value, ranks {sorted(set(options['ranks']))} (bank `max_rank` "
        f"{max(options['ranks'])}, `max_adapters` {built['adapters']}), each with its own head. "
        f"Median (and interquartile range, in % of it) of {options['steps']} calls after {options['warmup']} warm-up calls, the "
        "SavedModels taking turns call by call in one fresh TensorFlow-only process.",
        "",
        "| K adapters in the batch | bank (ms) | IQR | bank / merged | switchable, split by adapter "
        "(ms) | IQR | switchable / merged | bank examples/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = {}
    for k in options["ks"]:
        row = {r["kind"]: r for r in results if r["k"] == k and r["kind"] != "merged"}
        cells = []
        for kind in ("bank", "switchable"):
            r = row.get(kind)
            if r is None or "error" in r:
                cells += [f"failed: {r and r.get('error')}", "", ""]
                continue
            median = r["timing"]["median_s"]
            ratio = median / reference if reference else float("nan")
            ratios[(kind, k)] = ratio
            cells += [f"{1000 * median:.1f}", f"{r['timing']['iqr_percent']:.0f}%", f"{ratio:.2f}"]
        bank = row.get("bank", {}).get("timing", {}).get("median_s")
        cells.append(f"{batch / bank:.0f}" if bank else "–")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append(
        f"| merged single adapter (reference) | {1000 * reference:.1f} | "
        f"{merged['timing']['iqr_percent']:.0f}% | 1.00 | | | | {batch / reference:.0f} |"
        if reference
        else f"| merged single adapter (reference) | failed: {merged.get('error')} | | | | | | |"
    )
    target = ratios.get(("bank", TARGET_K))
    verdict = (
        "not measured"
        if target is None
        else ("PASS" if target <= TARGET_RATIO else "MISS") + f" ({target:.2f})"
    )
    sizes = built["sizes"]
    k_max = built["adapters"]
    lines += [
        "",
        f"Target: a mixed batch of K={TARGET_K} adapters within {TARGET_RATIO}x the merged "
        f"single-adapter model's latency: {verdict}.",
        "",
        "| export | adapters | variables (MiB) | graph `saved_model.pb` (MiB) | memory per added adapter |",
        "|---|---:|---:|---:|---|",
        f"| merged, one SavedModel per adapter | 1 | {_mib(sizes['merged']['variables'])} | "
        f"{_mib(sizes['merged']['graph'])} | {_mib(sizes['merged']['variables'])} MiB "
        "(a whole model) |",
        f"| switchable, one signature per adapter | {k_max} | "
        f"{_mib(sizes['switchable']['variables'])} | {_mib(sizes['switchable']['graph'])} | "
        f"{built['lora_bytes_per_adapter'] / 1024:.1f} KiB of LoRA variables + "
        f"{(sizes['switchable']['graph'] - sizes['merged']['graph']) / k_max / 1024:.0f} KiB "
        "of graph (one more traced signature) |",
        f"| bank, `max_adapters={k_max}` | {k_max} | {_mib(sizes['bank']['variables'])} | "
        f"{_mib(sizes['bank']['graph'])} | {built['bank_bytes_per_slot'] / 1024:.1f} KiB per "
        f"slot (LoRA padded to rank {max(options['ranks'])} + a "
        f"{built['head_bytes'] / 1024:.1f} KiB head); graph unchanged |",
        "",
        "Export time (s): "
        + ", ".join(f"{kind} {s:.0f}" for kind, s in built["export_s"].items())
        + ".",
    ]
    return "\n".join(lines) + "\n", target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny random BERT, for tests")
    parser.add_argument("--ks", default=None, help="comma-separated K (default 1,4,16,64)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sequence-length", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="timed calls (default 11)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", default=str(bench_machine.REPO_ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--options", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:
        result = measure(json.loads(args.single), json.loads(args.options))
        with open(args.result, "w") as handle:
            json.dump(result, handle)
        return 0
    ks = [int(k) for k in (args.ks or ("1,2,4" if args.quick else "1,4,16,64")).split(",")]
    options = {
        "quick": args.quick,
        "ks": ks,
        "ranks": [2, 4] if args.quick else [4, 8, 16],
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "steps": args.steps or (2 if args.quick else 11),
        "warmup": args.warmup,
    }
    machine = bench_machine.machine_info()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench_adapter_bank_") as folder:
        built = build(folder, options)
        print(f"exported in {built['export_s']}", flush=True)
        results = _run_child(built["paths"], options)
        for r in results:
            print(
                f"{r['kind']:10s} K={r['k']:<3d} {json.dumps(r.get('timing', r.get('error')))[:100]}"
            )
    section, _ = render(built, results, options, machine)
    section += f"\nWall time of the run: {time.time() - started:.0f} s.\n"
    print(section)
    bench_machine.write_results(args.output, section, heading=HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
