"""How close the training step comes to the machine's float32 matmul peak, in one run.

Measures, each in its own child process of this script:

1. the matmul peak: `--matmul-size` square float32 products with TensorFlow
   (eager, i.e. its oneDNN/Eigen kernel), TensorFlow under XLA (the kernel
   our compiled step uses) and NumPy (its BLAS), all on `--threads`
   threads, once before and once after the training steps; the best
   GFLOP/s any of them reaches is the machine's peak;
2. the training step of each method on MiniLM-L6's shapes (random weights,
   XLA, AdamW; `bench_measure.measure_random_training`).

The useful FLOPs of a step come from the shapes (`bench_flops.step_flops`:
forward, backward to the activations that lead to a trainable weight, and
weight gradients of trainable weights only), so efficiency = useful FLOPs ÷
median step time ÷ peak is a ratio.

Usage:

```bash
python benchmarks/bench_efficiency.py              # writes docs/benchmarks.md
python benchmarks/bench_efficiency.py --methods lora,full --no-write
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

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_configs  # noqa: E402 (TensorFlow-free)
import bench_flops  # noqa: E402
import bench_machine  # noqa: E402
import bench_report  # noqa: E402

METHODS = ("full", "lora", "lora_all", "pfeiffer", "houlsby", "prefix")
PEAKS = ("tensorflow", "xla", "numpy")
PEAK_LABELS = {
    "tensorflow": "TensorFlow `tf.matmul` (eager)",
    "xla": "TensorFlow `tf.matmul` under XLA (`jit_compile=True`)",
    "numpy": "NumPy `a @ b`",
}
HEADING = "## Latest results: efficiency"
GOAL = 0.60


def measure_peak(library, size, repeats, threads):
    """Best and median GFLOP/s of `repeats` `size`-square float32 matmuls."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    if library == "numpy":

        def product():
            return a @ b
    else:
        import bench_measure

        bench_measure.set_tensorflow_threads(threads)
        import tensorflow as tf

        ta, tb = tf.constant(a), tf.constant(b)
        matmul = (
            tf.function(tf.linalg.matmul, jit_compile=True)
            if library == "xla"
            else tf.linalg.matmul
        )

        def product():
            return matmul(ta, tb).numpy()

    product()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    flops = 2.0 * size**3
    times.sort()
    return {
        "library": library,
        "best_gflops": flops / times[0] / 1e9,
        "median_gflops": flops / times[len(times) // 2] / 1e9,
    }


def run_single(spec, options):
    kind, name = spec.split(":")
    if kind == "peak":
        return measure_peak(name, options["matmul_size"], options["repeats"], options["threads"])
    import bench_measure

    return bench_measure.measure_random_training(name, options)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated subset of " + ",".join(METHODS),
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per method (default 10)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument(
        "--repeats", type=int, default=10, help="timed matmuls per peak (default 10)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(bench_machine.REPO_ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--options", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    return parser


def options_of(args):
    for name in ("batch_size", "sequence_length", "steps", "threads", "matmul_size", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"`--{name.replace('_', '-')}` must be >= 1. Received: {getattr(args, name)}"
            )
    return {
        "shapes": bench_configs.MINILM_SHAPES,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": args.threads,
        "matmul_size": args.matmul_size,
        "repeats": args.repeats,
        "seed": args.seed,
    }


def run_child(spec, options, folder):
    result_file = os.path.join(folder, spec.replace(":", "_") + ".json")
    command = [sys.executable, __file__, "--single", spec, "--options", json.dumps(options)]
    command += ["--result-file", result_file]
    threads = str(options["threads"])
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    env["PYTHONPATH"] = os.pathsep.join([str(bench_machine.REPO_ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    if process.returncode != 0 or not os.path.exists(result_file):
        return {"error": process.stderr[-4000:] or f"exit status {process.returncode}"}
    return json.loads(pathlib.Path(result_file).read_text())


def measure_all(methods, options):
    """Peaks, the methods' steps, peaks again; returns `(peaks, steps, load)`."""
    load = [os.getloadavg()]
    plan = (
        [f"peak:{p}" for p in PEAKS]
        + [f"train:{m}" for m in methods]
        + [f"peak:{p}" for p in PEAKS]
    )
    peaks, steps = {p: [] for p in PEAKS}, {}
    with tempfile.TemporaryDirectory(prefix="keras_adapters_efficiency_") as folder:
        for index, spec in enumerate(plan):
            result = run_child(spec, options, folder)
            kind, name = spec.split(":")
            if kind == "peak":
                peaks[name].append(result)
            else:
                steps[name] = result
            if "error" in result:
                shown = "FAILED: " + result["error"].strip().splitlines()[-1]
            elif kind == "peak":
                shown = f"{result['best_gflops']:.1f} GFLOP/s"
            else:
                shown = f"{result['median_s'] * 1000:,.0f} ms"
            print(f"[{index + 1}/{len(plan)}] {spec}: {shown}", flush=True)
    load.append(os.getloadavg())
    return peaks, steps, load


def render(peaks, steps, load, options, machine):
    """The markdown section."""
    best = {
        p: max((r["best_gflops"] for r in runs if "error" not in r), default=None)
        for p, runs in peaks.items()
    }
    peak = max(v for v in best.values() if v is not None)
    peak_rows = [
        [
            PEAK_LABELS[p],
            "–" if best[p] is None else f"{best[p]:.1f}",
            " / ".join(f"{r['median_gflops']:.1f}" for r in peaks[p] if "error" not in r),
        ]
        for p in PEAKS
    ]
    rows = []
    b, t = options["batch_size"], options["sequence_length"]
    for method, result in steps.items():
        flops = bench_flops.step_flops(method, b, t, options["shapes"])
        if "error" in result:
            rows.append([bench_configs.LABELS[method], "FAILED", "–", "–", "–", "–", "–"])
            continue
        achieved = flops.total / result["median_s"] / 1e9
        rows.append(
            [
                bench_configs.LABELS[method],
                f"{flops.forward / 1e9:.1f} / {flops.backward_activations / 1e9:.1f} / {flops.weight_gradients / 1e9:.1f}",
                f"{flops.total / 1e9:.1f}",
                bench_report._ms(result),
                f"{achieved:.1f}",
                f"{achieved / peak:.2f}",
                "PASS" if achieved / peak >= GOAL else "MISS",
            ]
        )
    loads = " → ".join(" / ".join(f"{v:.2f}" for v in pair) for pair in load)
    cores = machine["Cores"].split()[0]
    contended = max(load[0][0], load[1][0]) > 0.5 * float(cores)
    note = f"CPU (lscpu model name): {machine['CPU']}, {machine['Cores']} cores. Load average (1/5/15 min) before → after: {loads}"
    note += (
        "; the machine was shared with other jobs (contended): every figure is lower than on a quiet machine."
        if contended
        else "."
    )
    return (
        "\n\n".join(
            [
                HEADING,
                note,
                f"### Matmul peak ({options['matmul_size']}² float32, {options['threads']} threads, best of {options['repeats']})",
                bench_report._table(
                    ["Kernel", "Best GFLOP/s", "Median GFLOP/s (before / after)"], peak_rows
                ),
                f"### Training step ({b} × {t}, MiniLM-L6 shapes, random weights, XLA, AdamW)",
                f"Peak used: {peak:.1f} GFLOP/s (the best above). Goal: ≥ {GOAL:.0%} of it.",
                bench_report._table(
                    [
                        "Method",
                        "Useful GFLOP: forward / backward to activations / weight gradients",
                        "Total GFLOP",
                        "Step (ms ±IQR)",
                        "Achieved GFLOP/s",
                        "÷ peak",
                        f"≥ {GOAL:.0%}",
                    ],
                    rows,
                ),
                f"keras {machine['keras']}, tensorflow {machine['tensorflow']}, keras-adapters {machine['keras-adapters']}, {machine['Date']}.",
            ]
        )
        + "\n"
    )


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.single:
        result = run_single(args.single, json.loads(args.options))
        pathlib.Path(args.result_file).write_text(json.dumps(result))
        return 0
    try:
        options = options_of(args)
        methods = bench_configs.parse_names(args.methods, METHODS)
    except ValueError as error:
        build_parser().error(str(error))
    machine = bench_machine.machine_info()
    peaks, steps, load = measure_all(methods, options)
    if args.json:
        pathlib.Path(args.json).write_text(
            json.dumps(
                {
                    "peaks": peaks,
                    "steps": steps,
                    "load": load,
                    "options": options,
                    "machine": machine,
                }
            )
        )
    section = render(peaks, steps, load, options, machine)
    print("\n" + section)
    if not args.no_write:
        bench_machine.write_results(args.output, section, heading=HEADING)
        print(f"Wrote {args.output}")
    failed = any("error" in r for r in steps.values()) or any(
        "error" in r for runs in peaks.values() for r in runs
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
