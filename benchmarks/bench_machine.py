"""Where a benchmark ran (machine, versions, date) and writing its results to docs.

Nothing here imports TensorFlow: versions are read from package metadata, so
the parent process of `run_benchmarks.py` stays light.
"""

import datetime
import importlib.metadata
import os
import pathlib
import platform
import re
import subprocess

RESULTS_HEADING = "## Latest results"

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent

INTRO = """\
# Benchmarks

Training and inference speed of keras-adapters' methods against full
fine-tuning and Keras' built-in LoRA, on the real MiniLM-L6 encoder
(`keras_adapters.assets.load_backbone_preset("minilm_l6")`, a KerasHub
`BertBackbone` with exact GELU, 22.7M parameters) under a
`keras_adapters.models.MeanPooledTextClassifier` head with 2 classes.

## What is measured

- **Training step**: one optimizer step (AdamW, sparse cross-entropy, no
  metrics) of `model.train_on_batch` on one fixed, seeded batch of synthetic
  token ids (batch 32, sequence length 64 by default), with
  `compile(jit_compile=True)` ("XLA on") and `jit_compile=False` ("XLA off").
  The first step traces the function (and compiles it with XLA) and is
  reported on its own; then come untimed warm-up steps, then the timed steps,
  of which the median is reported. `train_on_batch` is used rather than `fit`
  because each call is exactly one step and returns only when the step is
  done, so every step is timed on its own without an input pipeline,
  callbacks or a progress bar.
- **Inference**: the median time of `model.predict_on_batch` on the same
  batch, after the same first call and warm-up, for the base model, our LoRA
  unmerged and merged (`keras_adapters.merge_adapters`), and a Pfeiffer
  bottleneck adapter.
- **Peak memory**: every configuration runs in its own child process (a fresh
  model from the cached checkpoint), so configurations cannot influence each
  other; its peak resident set size (`ru_maxrss`, which includes the
  TensorFlow runtime) is reported in MiB.
- **Ratios** are taken between medians of the same run. The interquartile
  range (IQR) of the timed steps, in percent of the median, shows how noisy a
  number is: a ratio is only meaningful to about that precision.

Targets: our LoRA step no slower than Keras' LoRA step; every keras-adapters
method's step clearly faster than full fine-tuning (at most 0.90 of it);
merged LoRA inference within 2% of the base model (at most 1.02 of it).

## How to rerun

From the repository root:

<!-- docs-test: skip (~20 min; tests/benchmarks/ runs it with --quick) -->
```bash
KERAS_BACKEND=tensorflow python benchmarks/run_benchmarks.py
```

It rewrites the "Latest results" section below (everything above it is kept)
and takes about 15 to 20 minutes on 2 CPU cores. `--help` lists the options:
`--steps` (default 20), `--warmup` (3), `--inference-steps`, `--batch-size`
(32), `--sequence-length` (64), `--methods` and `--inference` (subsets),
`--no-xla` / `--xla-only`, `--output`, `--json` (raw results, every step time
included), `--from-json` (render saved results again without measuring),
`--jobs` (configurations at once; keep 1 for real numbers) and `--quick` (a
tiny random model, for tests; it writes nothing unless `--output` is given).
Run it on a quiet machine: other processes on the same cores distort every
number (the load average at the start is recorded below).

"""


def _read_first(path, pattern):
    try:
        text = pathlib.Path(path).read_text()
    except OSError:
        return None
    match = re.search(pattern, text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit():
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (with local changes)" if dirty else commit


def machine_info():
    """A dict describing this machine and software, for the results header."""
    cpu = _read_first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor()
    mem_kib = _read_first("/proc/meminfo", r"^MemTotal:\s*(\d+)\s*kB")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()}"
    if usable is not None and usable != os.cpu_count():
        cores += f" ({usable} usable by this process)"
    try:
        load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "unknown"
    return {
        "CPU": cpu or "unknown",
        "Cores": cores,
        "RAM": f"{int(mem_kib) / 2**20:.1f} GiB" if mem_kib else "unknown",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "keras": _version("keras"),
        "tensorflow": _version("tensorflow"),
        "keras-hub": _version("keras-hub"),
        "keras-adapters": f"{_version('keras-adapters')}, commit {_git_commit()}",
        "Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "Load average at start (1/5/15 min)": load,
    }


def write_results(path, section, heading=RESULTS_HEADING):
    """Replaces the `heading` section ("Latest results") of `path` with `section`.

    Everything before the `## Latest results` heading is kept, and so is
    any later `## ` section after the results. A missing file (or one without
    the heading) gets the default introduction first.

    Args:
        path: str or `pathlib.Path`. The markdown file to write.
        section: str. The new section, starting with the heading.
    """
    path = pathlib.Path(path)
    text = path.read_text() if path.exists() else ""
    start = text.find(heading + "\n")
    if start < 0:
        before, after = (text.rstrip() + "\n\n" if text.strip() else INTRO), ""
    else:
        before = text[:start]
        rest = text[start + len(heading) + 1 :]
        following = re.search(r"^## ", rest, flags=re.MULTILINE)
        after = "\n" + rest[following.start() :] if following else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + section.rstrip() + "\n" + after)
