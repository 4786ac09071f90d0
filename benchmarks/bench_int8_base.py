"""Training LoRA on a float, int8 or int4 MiniLM base: weight memory, step time, peak RSS.

Usage (from the repository root):

    python benchmarks/bench_int8_base.py [--modes none,int8,int4] [--steps 8] [--xla]

Each mode runs in its own child process (so peak RSS is its own): the real
MiniLM-L6 classifier of `bench_configs`, LoRA rank 8 on all six projections
plus the head (`lora_all`, as `keras-adapters train`), then
`keras_adapters.quantize_base(model, mode)`, AdamW, and `train_on_batch` on
one fixed batch of 32 x 48 token ids, timed as `bench_measure.time_calls`
does. Prints a Markdown table with ratios to the float base.
"""

import argparse
import json
import math
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

BATCH, LENGTH = 32, 48


def measure(mode, steps, xla):
    import bench_configs
    import bench_measure
    import keras
    import numpy as np

    import keras_adapters

    model = bench_configs.build_training_model("lora_all", quick=False, seed=0)
    if mode != "none":
        keras_adapters.quantize_base(model, mode)
    weight_bytes = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=xla,
    )
    x, y = bench_configs.make_batch(BATCH, LENGTH, 30522, seed=0)
    timing = bench_measure.time_calls(lambda: model.train_on_batch(x, y), steps, warmup=2)
    return {
        "weights_mib": weight_bytes / 2**20,
        "step_s": timing["median_s"],
        "iqr_s": timing["p75_s"] - timing["p25_s"],
        "peak_rss_mib": bench_measure.peak_rss_mib(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="none,int8,int4")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:
        print(json.dumps(measure(args.single, args.steps, args.xla)))
        return
    results = {}
    for mode in args.modes.split(","):
        command = [sys.executable, __file__, "--single", mode, "--steps", str(args.steps)]
        command += ["--xla"] if args.xla else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results.get("none")
    print(f"MiniLM-L6 + LoRA (all-linear, r 8) + head, batch {BATCH} x {LENGTH}, XLA {args.xla}")
    print("| base | weights MiB | step s (IQR) | peak RSS MiB | step / float |")
    print("|---|---|---|---|---|")
    for mode, r in results.items():
        ratio = f"{r['step_s'] / base['step_s']:.2f}" if base else "-"
        print(
            f"| {mode} | {r['weights_mib']:.1f} | {r['step_s']:.3f} ({r['iqr_s']:.3f}) "
            f"| {r['peak_rss_mib']:.0f} | {ratio} |"
        )


if __name__ == "__main__":
    main()
