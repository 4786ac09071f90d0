"""Training and inference speed of keras-adapters' methods, in one run.

Runs every selected configuration (training method × XLA on/off, and the
inference models) in its own child process of this same script
(`--single SPEC`), collects their JSON results, prints the tables and writes
them to the "Latest results" section of `docs/benchmarks.md`.

Usage:

```bash
KERAS_BACKEND=tensorflow python benchmarks/run_benchmarks.py
KERAS_BACKEND=tensorflow python benchmarks/run_benchmarks.py --methods full,lora --xla-only
KERAS_BACKEND=tensorflow python benchmarks/run_benchmarks.py --quick --output /tmp/bench.md
```
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_configs  # noqa: E402 (after the backend is chosen)
import bench_machine  # noqa: E402

DEFAULT_OUTPUT = bench_machine.REPO_ROOT / "docs" / "benchmarks.md"
# Full run / `--quick` defaults of the options that depend on the mode.
DEFAULTS = {
    "steps": (20, 2),
    "warmup": (3, 1),
    "batch_size": (32, 4),
    "sequence_length": (64, 16),
}


def _names(valid, allow_none=False):
    def parse(text):
        try:
            return bench_configs.parse_names(text, valid, allow_none)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _positive(minimum):
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Received: {text}")
        return value

    return parse


def build_parser():
    parser = argparse.ArgumentParser(
        description=(
            "Measure training-step time, inference latency and peak memory of "
            "keras-adapters' methods on MiniLM-L6, each configuration in its own "
            "child process, and write the tables to docs/benchmarks.md."
        ),
    )
    parser.add_argument(
        "--steps",
        type=_positive(1),
        default=None,
        help="timed steps per configuration (default 20; --quick: 2)",
    )
    parser.add_argument(
        "--warmup",
        type=_positive(0),
        default=None,
        help="untimed steps after the first one (default 3; --quick: 1)",
    )
    parser.add_argument(
        "--inference-steps",
        type=_positive(1),
        default=None,
        help="timed forward passes per inference configuration (default: the value of --steps)",
    )
    parser.add_argument(
        "--batch-size", type=_positive(1), default=None, help="batch size (default 32; --quick: 4)"
    )
    parser.add_argument(
        "--sequence-length",
        type=_positive(1),
        default=None,
        help="tokens per example (default 64; --quick: 16)",
    )
    parser.add_argument(
        "--methods",
        type=_names(bench_configs.TRAIN_METHODS, True),
        default=bench_configs.TRAIN_METHODS,
        help="training methods: all (default), none, or a comma-separated "
        "subset of " + ",".join(bench_configs.TRAIN_METHODS),
    )
    parser.add_argument(
        "--inference",
        type=_names(bench_configs.INFERENCE_CONFIGS, True),
        default=bench_configs.INFERENCE_CONFIGS,
        help="inference models: all (default), none, or a comma-separated "
        "subset of " + ",".join(bench_configs.INFERENCE_CONFIGS),
    )
    xla = parser.add_mutually_exclusive_group()
    xla.add_argument("--no-xla", action="store_true", help="only jit_compile=False")
    xla.add_argument("--xla-only", action="store_true", help="only jit_compile=True")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny random BertBackbone and few steps (for tests); "
        "writes no file unless --output is given",
    )
    parser.add_argument(
        "--output",
        default=None,
        help=f"markdown file whose 'Latest results' section is replaced "
        f"(default {DEFAULT_OUTPUT.relative_to(bench_machine.REPO_ROOT)}; "
        "with --quick: none)",
    )
    parser.add_argument("--json", default=None, help="also write the raw results to this file")
    parser.add_argument(
        "--from-json",
        default=None,
        metavar="PATH",
        help="measure nothing: render (and write to --output) the results "
        "of an earlier --json file",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batch (default 0)")
    parser.add_argument(
        "--jobs",
        type=_positive(1),
        default=1,
        help="configurations run at once (default 1; keep 1 for real timings)",
    )
    parser.add_argument(
        "--child-timeout",
        type=_positive(1),
        default=3600,
        help="seconds after which one configuration is abandoned (default 3600)",
    )
    parser.add_argument(
        "--single", metavar="SPEC", default=None, help=argparse.SUPPRESS
    )  # child mode: train:METHOD:on|off or infer:NAME
    parser.add_argument("--result-file", default=None, help=argparse.SUPPRESS)
    return parser


def resolve_options(args):
    """Fills mode-dependent defaults; returns the options every child gets."""
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.inference_steps is None:
        args.inference_steps = args.steps
    modes = ["on"] if args.xla_only else ["off"] if args.no_xla else ["off", "on"]
    return {
        "steps": args.steps,
        "warmup": args.warmup,
        "inference_steps": args.inference_steps,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "seed": args.seed,
        "quick": args.quick,
        "mode_names": modes,
        "modes": [mode == "on" for mode in modes],
    }


def output_path(args):
    """The markdown file to write: `--output`, else the docs page (none with `--quick`)."""
    if args.output is not None:
        return args.output
    return None if args.quick else DEFAULT_OUTPUT


def plan_specs(args, options):
    """Every configuration to run, in report order."""
    specs = [f"train:{method}:{mode}" for method in args.methods for mode in options["mode_names"]]
    return specs + [f"infer:{name}" for name in args.inference]


def run_single(args, options):
    """Child mode: measure one configuration and write its JSON result."""
    import bench_measure

    result = bench_measure.measure(args.single, options)
    text = json.dumps(result, indent=1)
    if args.result_file:
        with open(args.result_file, "w") as file:
            file.write(text)
    else:
        print(text)
    return 0


def _child_command(spec, result_file, options):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--single",
        spec,
        "--result-file",
        result_file,
    ]
    for name in ("steps", "warmup", "inference_steps", "batch_size", "sequence_length", "seed"):
        command += [f"--{name.replace('_', '-')}", str(options[name])]
    if options["quick"]:
        command.append("--quick")
    if options["mode_names"] == ["on"]:
        command.append("--xla-only")
    elif options["mode_names"] == ["off"]:
        command.append("--no-xla")
    return command


def run_child(spec, options, folder, timeout):
    """Runs one configuration in a fresh process; returns its result dict."""
    result_file = os.path.join(folder, spec.replace(":", "_") + ".json")
    command = _child_command(spec, result_file, options)
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if process.returncode != 0 or not os.path.exists(result_file):
        return {"error": process.stderr[-4000:] or f"exit status {process.returncode}"}
    with open(result_file) as file:
        return json.load(file)


def _progress(index, total, spec, result):
    if "error" in result:
        summary = "FAILED: " + (result["error"].strip().splitlines() or ["?"])[-1]
    elif result["kind"] == "train":
        summary = (
            f"step {result['median_s'] * 1000:,.1f} ms, first {result['first_s']:.2f} s, "
            f"peak {result['peak_rss_mib']:,.0f} MiB"
        )
    else:
        summary = ", ".join(
            f"XLA {mode} {t['median_s'] * 1000:,.1f} ms" for mode, t in result["modes"].items()
        )
        summary += f", peak {result['peak_rss_mib']:,.0f} MiB"
    print(f"[{index}/{total}] {spec}: {summary}", flush=True)


def run_all(specs, options, jobs, timeout):
    """Runs `specs` in child processes, `jobs` at a time; returns `{spec: result}`."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="keras_adapters_bench_") as folder:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(run_child, spec, options, folder, timeout): spec for spec in specs
            }
            for index, future in enumerate(concurrent.futures.as_completed(futures), 1):
                spec = futures[future]
                results[spec] = future.result()
                _progress(index, len(specs), spec, results[spec])
    return {spec: results[spec] for spec in specs}


def measure_all(args, options):
    """Runs every selected configuration; returns `(machine, settings, results)`."""
    machine = bench_machine.machine_info()  # load average before we add to it
    specs = plan_specs(args, options)
    if not specs:
        build_parser().error("nothing to run: --methods none and --inference none")
    print(f"Running {len(specs)} configurations, {args.jobs} at a time.", flush=True)
    start = time.perf_counter()
    results = run_all(specs, options, args.jobs, args.child_timeout)
    settings = {
        **options,
        "modes": options["mode_names"],
        "methods": list(args.methods),
        "inference": list(args.inference),
        "jobs": args.jobs,
        "wall_s": time.perf_counter() - start,
    }
    return machine, settings, results


def main(argv=None):
    args = build_parser().parse_args(argv)
    options = resolve_options(args)
    if args.single:
        return run_single(args, options)

    import bench_report

    output = output_path(args)
    if args.from_json:
        with open(args.from_json) as file:
            saved = json.load(file)
        machine, settings, results = saved["machine"], saved["settings"], saved["results"]
        if settings["quick"] and args.output is None:
            output = None  # a quick run never lands in the docs by default
    else:
        machine, settings, results = measure_all(args, options)
    section = bench_report.render_section(results, settings, machine)
    print()
    print(section)
    if output:
        bench_machine.write_results(output, section)
        print(f"Wrote {output}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {"machine": machine, "settings": settings, "results": results},
                file,
                indent=1,
                default=str,
            )
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
