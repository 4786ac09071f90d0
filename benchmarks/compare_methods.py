"""Runs the main job once per method on the same split and budget; writes docs/results.md.

Each method is one `keras-adapters train` process with identical data, seed,
examples, epochs, batch and sequence length; only `--method` (and, for `full`,
its default learning rate) changes. The table is built from each run's
`metrics.json`.

With `--task causal-lm`, the runs are the causal-LM job (SmolLM2-135M-Instruct
answering Rotten Tomatoes prompts) and the table goes to its own section.

Usage:
    python benchmarks/compare_methods.py                       # all methods, ~40 min on 2 cores
    python benchmarks/compare_methods.py --methods lora,full --runs-dir /tmp/compare
    python benchmarks/compare_methods.py --task causal-lm      # ~1 hour on 2 cores
"""

import argparse
import datetime
import json
import pathlib
import platform
import subprocess
import sys

from keras_adapters.cli.method_configs import METHODS  # every method the CLI trains

ROOT = pathlib.Path(__file__).resolve().parents[1]
SECTION = "## Latest results"
CAUSAL_SECTION = "## Latest results: causal LM"


def run_method(method, runs_dir, extra):
    output = runs_dir / method
    command = [
        sys.executable,
        "-c",
        "import sys, keras_adapters_cli; sys.exit(keras_adapters_cli.main())",
        "train",
        "--method",
        method,
        "--output-dir",
        str(output),
        "--overwrite",
        "--verbose",
        "2",
        *extra,
    ]
    print("$", " ".join(command[3:]), flush=True)
    subprocess.run(command, check=True)
    return json.loads((output / "metrics.json").read_text())


def render(results):
    first = next(iter(results.values()))
    lines = [
        SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {platform.node() or 'this machine'}: "
        f"{first['cpu_count']} CPU cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}.",
        f"Same budget for every method: {first['train_examples']:,} training examples, "
        f"{first['epochs']} epoch(s), batch {first['batch_size']}, sequence length "
        f"{first['sequence_length']}, seed {first['seed']}, XLA {'on' if first['xla'] else 'off'}; "
        f"test split of {first['test_examples']:,} texts (majority class "
        f"{first['majority_class_test_accuracy']:.3f}).",
        "",
        "| method | trainable parameters | % of model | learning rate | test accuracy | "
        "validation accuracy | before training | train time (s) | whole run (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, m in results.items():
        lines.append(
            f"| {method} | {m['trainable_parameters']:,} | {m['trainable_percent']:.2f} | "
            f"{m['learning_rate']:g} | **{m['test_accuracy']:.4f}** | {m['validation_accuracy']:.4f} | "
            f"{m['untrained_test_accuracy']:.4f} | {m['train_seconds']:.0f} | {m['total_seconds']:.0f} |"
        )
    lines += [
        "",
        "Whole run = load + evaluate before + train + evaluate + save + export + fresh-process check"
        " (Python start-up and TensorFlow import, about 5 s, not included).",
        "",
    ]
    return "\n".join(lines)


def render_causal(results):
    first = next(iter(results.values()))
    lines = [
        CAUSAL_SECTION,
        "",
        f"Measured {datetime.date.today().isoformat()} on {_cpu()} ({first['cpu_count']} cores), "
        f"Python {platform.python_version()}.",
        f"Same budget for every method: SmolLM2-135M-Instruct, {first['train_examples']:,} training "
        f"prompts, {first['epochs']} epoch(s), batch {first['batch_size']}, sequence length "
        f"{first['sequence_length']}, seed {first['seed']}, XLA {'on' if first['xla'] else 'off'}; "
        f"scored on the first {first['eval_examples']:,} test prompts (majority class "
        f"{first['majority_class_accuracy']:.3f}) by the likelihood of each answer word.",
        "",
        "| method | trainable parameters | % of model | learning rate | accuracy | zero-shot | "
        "answer perplexity | zero-shot perplexity | train time (s) | whole run (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, m in results.items():
        lines.append(
            f"| {method} | {m['trainable_parameters']:,} | {m['trainable_percent']:.2f} | "
            f"{m['learning_rate']:g} | **{m['test_accuracy']:.4f}** | {m['zero_shot_accuracy']:.4f} | "
            f"{m['answer_perplexity']:.3f} | {m['zero_shot_answer_perplexity']:.1f} | "
            f"{m['train_seconds']:.0f} | {m['total_seconds']:.0f} |"
        )
    lines += ["", "Sample answers of the LoRA run:", ""]
    for sample in results.get("lora", first)["samples"]:
        review = sample["prompt"].split("<|im_start|>user\n")[-1].split("\n")[0]
        lines.append(f"- {review!r} → {sample['answer']!r}")
    return "\n".join(lines) + "\n"


def _cpu():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write(output, section, heading=SECTION):
    """Replaces the `heading` section of `output` (up to the next `## `) with `section`."""
    text = output.read_text() if output.exists() else "# Results\n\n"
    start = text.find(heading + "\n")
    if start < 0:
        output.write_text(text.rstrip() + "\n\n" + section)
        return
    rest = text[start + len(heading) + 1 :]
    following = rest.find("\n## ")
    after = rest[following + 1 :] if following >= 0 else ""
    output.write_text(text[:start] + section.rstrip() + "\n" + ("\n" + after if after else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--task", default="text-classification", choices=("text-classification", "causal-lm")
    )
    parser.add_argument("--runs-dir", default=str(ROOT / "runs" / "compare"))
    parser.add_argument("--output", default=str(ROOT / "docs" / "results.md"))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the methods already in RUNS_DIR/TASK/results.json (resume an interrupted run)",
    )
    args, extra = parser.parse_known_args(argv)
    runs_dir = pathlib.Path(args.runs_dir) / args.task
    extra = ["--task", args.task, *extra]
    saved = runs_dir / "results.json"
    results = json.loads(saved.read_text()) if args.reuse and saved.exists() else {}
    for method in args.methods.split(","):
        if method not in results:
            results[method] = run_method(method, runs_dir, extra)
            runs_dir.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(results, indent=2))  # an interrupted run keeps its methods
    results = {m: results[m] for m in args.methods.split(",")}
    causal = args.task == "causal-lm"
    section = render_causal(results) if causal else render(results)
    print(section)
    write(pathlib.Path(args.output), section, CAUSAL_SECTION if causal else SECTION)


if __name__ == "__main__":
    main()
