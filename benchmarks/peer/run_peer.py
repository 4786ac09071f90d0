"""keras-adapters against PyTorch + peft / adapters: training-step speed on one CPU.

Each (library, method) pair runs in its own child process: keras-adapters'
side (`peer_keras.py`) with this Python and TensorFlow, PyTorch's side
(`peer_torch.py`) with the Python of a separate PyTorch environment given by
`--torch-python`, so torch and TensorFlow never share a process. Children
run interleaved, method by method (ours, theirs, ours, theirs, ...; with
`--baseline-root`, baseline, ours, theirs), so a change of machine load
during the run falls on both sides alike. This process imports neither.

Usage:

```bash
python3 -m venv ~/torch-venv
~/torch-venv/bin/pip install "torch==2.13.0+cpu" "peft==0.21.*" "adapters==1.3.*" \\
    --extra-index-url https://download.pytorch.org/whl/cpu
python benchmarks/peer/run_peer.py --torch-python ~/torch-venv/bin/python
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
sys.path.insert(0, str(HERE.parent))

import bench_configs  # noqa: E402 (TensorFlow-free)
import bench_machine  # noqa: E402 (TensorFlow-free)

METHODS = ("full", "lora", "pfeiffer", "houlsby", "prefix")
SIDES = ("baseline", "ours", "theirs")
HEADING = "## Latest results: PyTorch peer"
DEFAULT_OUTPUT = bench_machine.REPO_ROOT / "docs" / "benchmarks.md"
# Full run / `--quick` defaults.
DEFAULTS = {
    "steps": (10, 2),
    "warmup": (2, 1),
    "batch_size": (16, 4),
    "sequence_length": (128, 16),
}


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1. Received: {text}")
    return value


def _methods(text):
    try:
        return bench_configs.parse_names(text, METHODS)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser():
    parser = argparse.ArgumentParser(
        description="Training-step time of keras-adapters (XLA) against PyTorch with "
        "peft / adapters on the same CPU, interleaved, one process per method and library."
    )
    parser.add_argument(
        "--torch-python",
        required=True,
        help="Python of an environment with torch, peft and adapters (not this one)",
    )
    parser.add_argument(
        "--methods",
        type=_methods,
        default=METHODS,
        help="all (default) or a subset of " + ",".join(METHODS),
    )
    parser.add_argument("--steps", type=_positive, default=None, help="timed steps (default 10)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps after the first (default 2)"
    )
    parser.add_argument(
        "--rounds", type=_positive, default=1, help="passes over the methods (default 1)"
    )
    parser.add_argument("--batch-size", type=_positive, default=None, help="default 16")
    parser.add_argument("--sequence-length", type=_positive, default=None, help="default 128")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny random BERT, batch 4 x 16, 2 steps (for tests; numbers mean nothing)",
    )
    parser.add_argument("--threads", type=_positive, default=2, help="threads per side (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline-root",
        default=None,
        help="a folder holding another `keras_adapters` package, timed as a third side",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="markdown file whose peer section is replaced (default docs/benchmarks.md; "
        "with --quick: none)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    parser.add_argument("--from-json", default=None, help="render an earlier --json file only")
    parser.add_argument("--child-timeout", type=_positive, default=1800)
    return parser


def options_of(args):
    """What every child is told: shapes, batch, steps, threads, seed."""
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return {
        "quick": args.quick,
        "shapes": bench_configs.QUICK_BACKBONE if args.quick else bench_configs.MINILM_SHAPES,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": args.threads,
        "seed": args.seed,
    }


def child_command(side, method, args, result_file):
    """`(command, env)` of one child."""
    script = "peer_torch.py" if side == "theirs" else "peer_keras.py"
    python = args.torch_python if side == "theirs" else sys.executable
    command = [python, str(HERE / script), "--method", method]
    command += ["--options", json.dumps(options_of(args)), "--result-file", result_file]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    threads = str(args.threads)
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    if side != "theirs":
        root = args.baseline_root if side == "baseline" else str(bench_machine.REPO_ROOT)
        env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return command, env


def run_child(side, method, args, folder, index):
    result_file = os.path.join(folder, f"{index}_{side}_{method}.json")
    command, env = child_command(side, method, args, result_file)
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=args.child_timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.child_timeout} s"}
    if process.returncode != 0 or not os.path.exists(result_file):
        return {"error": process.stderr[-4000:] or f"exit status {process.returncode}"}
    return json.loads(pathlib.Path(result_file).read_text())


def schedule(args):
    """`(side, method)` in run order: round by round, method by method, sides interleaved."""
    sides = [side for side in SIDES if side != "baseline" or args.baseline_root]
    return [(s, m) for _ in range(args.rounds) for m in args.methods for s in sides]


def measure_all(args):
    """Runs every child; returns `(machine, settings, runs)`."""
    machine = bench_machine.machine_info()
    load_before = os.getloadavg()
    runs = []
    start = time.perf_counter()
    plan = schedule(args)
    with tempfile.TemporaryDirectory(prefix="keras_adapters_peer_") as folder:
        for index, (side, method) in enumerate(plan):
            result = run_child(side, method, args, folder, index)
            runs.append({"side": side, "method": method, **result})
            shown = (
                "FAILED: " + result["error"].strip().splitlines()[-1]
                if "error" in result
                else f"{result['median_s'] * 1000:,.0f} ms"
            )
            print(f"[{index + 1}/{len(plan)}] {side} {method}: {shown}", flush=True)
    settings = {
        **options_of(args),
        "methods": list(args.methods),
        "rounds": args.rounds,
        "baseline_root": args.baseline_root,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        "wall_s": time.perf_counter() - start,
    }
    return machine, settings, runs


def main(argv=None):
    args = build_parser().parse_args(argv)
    import peer_report

    if args.from_json:
        saved = json.loads(pathlib.Path(args.from_json).read_text())
        machine, settings, runs = saved["machine"], saved["settings"], saved["runs"]
    else:
        if not os.path.exists(args.torch_python):
            build_parser().error(f"--torch-python: no such file. Received: {args.torch_python!r}")
        machine, settings, runs = measure_all(args)
        if args.json:
            text = json.dumps({"machine": machine, "settings": settings, "runs": runs}, indent=1)
            pathlib.Path(args.json).write_text(text)
    section = peer_report.render_section(runs, settings, machine, HEADING)
    print("\n" + section)
    output = args.output or (None if settings.get("quick") else DEFAULT_OUTPUT)
    if output and not args.no_write:
        bench_machine.write_results(output, section, heading=HEADING)
        print(f"Wrote {output}")
    return 1 if any("error" in run for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
