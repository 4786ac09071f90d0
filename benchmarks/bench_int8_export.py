"""int8 deployment of a trained main-job run: latency and accuracy against the float export.

Usage (from the repository root, after `keras-adapters train` wrote RUN_DIR):

    python benchmarks/bench_int8_export.py RUN_DIR [--batches 1,64] [--repeats 20]

It rebuilds the run's model (float base + trained adapter), writes three
SavedModels with the raw-string signature into a temporary directory:

- `float`: `export_text_classifier(adapters="merged")`, as `train` does;
- `int8-merged`: after `keras_adapters.quantize_base(model, "int8")`, LoRA
  merged into the int8 kernels (dequantise, merge, re-quantise);
- `int8-unmerged`: the same int8 base with the LoRA branch kept in float32
  (`adapters="switchable"`, its `serving_default`).

Each SavedModel is loaded back with `tf.saved_model.load` (no Keras) and
called on the run's test split: accuracy, and the median latency of one call
at each batch size (after warm-up), interleaved between the three. Weight
memory is the bytes of the model's variables. Prints a Markdown table.
"""

import argparse
import json
import math
import pathlib
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def _weight_bytes(model):
    return sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights)


def _cpu():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    import tensorflow as tf

    import keras_adapters
    from keras_adapters.cli import run_files
    from keras_adapters.data import load_text_classification
    from keras_adapters.export import export_text_classifier

    model, config = run_files.load_run_model(args.run_dir)
    data = load_text_classification(config["data_source"], seed=config["split_seed"])
    texts, labels = list(data.test.texts), np.asarray(data.test.labels)
    label_names = config["label_names"]
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench_int8_"))
    memory = {"float": _weight_bytes(model)}
    export_text_classifier(model, root / "float", label_names=label_names)
    keras_adapters.quantize_base(model, "int8")
    memory["int8-merged"] = memory["int8-unmerged"] = _weight_bytes(model)
    export_text_classifier(model, root / "int8-merged", label_names=label_names)
    export_text_classifier(
        model, root / "int8-unmerged", label_names=label_names, adapters="switchable"
    )
    errors = keras_adapters.merge_adapters(model)  # after the exports: unmerging re-rounds
    names = ["float", "int8-merged", "int8-unmerged"]
    signatures = {
        n: tf.saved_model.load(str(root / n)).signatures["serving_default"] for n in names
    }

    results = {n: {} for n in names}
    for name, signature in signatures.items():
        logits = [
            signature(texts=tf.constant(texts[i : i + 64]))["logits"].numpy()
            for i in range(0, len(texts), 64)
        ]
        results[name]["accuracy"] = float(np.mean(np.concatenate(logits).argmax(-1) == labels))
    batches = [int(b) for b in args.batches.split(",")]
    for batch in batches:
        inputs = tf.constant(texts[:batch])
        times = {n: [] for n in names}
        for name in names:  # warm-up (first calls trace nothing, but warm caches)
            for _ in range(3):
                signatures[name](texts=inputs)
        for _ in range(args.repeats):
            for name in names:  # interleaved, so load changes hit all three alike
                start = time.perf_counter()
                signatures[name](texts=inputs)["logits"].numpy()
                times[name].append(time.perf_counter() - start)
        for name in names:
            results[name][f"ms@{batch}"] = 1000 * statistics.median(times[name])

    print(f"CPU: {_cpu()}; TensorFlow {tf.__version__}; test examples: {len(texts)}")
    print(f"largest re-quantisation error of a merged kernel: {max(errors.values()):.4f}")
    header = ["export", "weights MiB", "test accuracy"] + [f"ms/call batch {b}" for b in batches]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in names:
        row = [name, f"{memory[name] / 2**20:.1f}", f"{results[name]['accuracy']:.4f}"]
        row += [f"{results[name][f'ms@{b}']:.1f}" for b in batches]
        print("| " + " | ".join(row) + " |")
    for name in names[1:]:
        ratios = {b: results[name][f"ms@{b}"] / results["float"][f"ms@{b}"] for b in batches}
        print(f"{name} / float latency: " + json.dumps({b: round(r, 2) for b, r in ratios.items()}))
    print(f"SavedModels left in {root} (delete when done).")


if __name__ == "__main__":
    main()
