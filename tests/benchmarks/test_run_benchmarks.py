"""`benchmarks/run_benchmarks.py`: a quick end-to-end run and its pure helpers.

The end-to-end test runs the script as a user would, in `--quick` mode (tiny
random BERT, two methods, XLA off and on, two timed steps), into a temporary
file, and checks the tables, ratios and targets that land there. No network:
`--quick` never loads the MiniLM checkpoint.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "run_benchmarks.py"


@pytest.fixture
def bench(monkeypatch):
    """The benchmark modules, imported the way the script imports them."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_configs
    import bench_machine
    import run_benchmarks

    return bench_configs, bench_machine, run_benchmarks


def _row(text, first_cell):
    """The cells of the markdown table row starting with `first_cell`."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row {first_cell!r} in:\n{text}")


def _section(text, heading):
    start = text.index(f"### {heading}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end > 0 else None]


def test_quick_run_writes_tables_and_ratios(tmp_path):
    output = tmp_path / "benchmarks.md"
    output.write_text(
        "# Intro kept\n\nText kept.\n\n## Latest results\n\nold numbers\n\n## Notes\n\nKept too.\n"
    )
    raw = tmp_path / "results.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--methods",
        "full,lora",
        "--inference",
        "base,lora_merged",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--jobs",
        "2",
        "--output",
        str(output),
        "--json",
        str(raw),
    ]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert process.returncode == 0, process.stdout + process.stderr[-3000:]

    text = output.read_text()
    # Only the results section was replaced.
    assert text.startswith("# Intro kept\n\nText kept.\n\n## Latest results\n")
    assert "old numbers" not in text
    assert text.rstrip().endswith("## Notes\n\nKept too.")
    # The same tables were printed.
    assert _section(text, "Training step") in process.stdout

    training = _section(text, "Training step")
    header = _row(training, "Method")
    assert header[1:5] == [
        "Step, XLA off (ms ±IQR)",
        "÷ full",
        "Step, XLA on (ms ±IQR)",
        "÷ full",
    ]
    full, lora = _row(training, "Full fine-tuning"), _row(training, "LoRA r=8 (ours)")
    assert full[2] == full[4] == "1.00"
    for cell in (lora[1], lora[3]):
        assert re.fullmatch(r"[\d,]+\.\d ±\d+%", cell)
    assert all(float(cell) > 0 for cell in (lora[2], lora[4], lora[5]))

    inference = _section(text, "Inference")
    base, merged = _row(inference, "Base model"), _row(inference, "LoRA r=8, merged")
    assert base[3] == base[5] == "1.000"
    assert float(merged[3]) > 0 and float(merged[5]) > 0

    methods = _section(text, "Methods and trainable parameters")
    lora_params = int(_row(methods, "LoRA r=8 (ours)")[2].replace(",", ""))
    full_params = int(_row(methods, "Full fine-tuning")[2].replace(",", ""))
    assert 0 < lora_params < full_params
    assert _row(methods, "Full fine-tuning")[3] == "100.00%"

    targets = _section(text, "Targets")
    for mode in ("off", "on"):
        row = _row_with(targets, "LoRA r=8 (ours) step ÷ full fine-tuning step", mode)
        assert row[5] in ("PASS", "MISS") and float(row[2]) > 0
        row = _row_with(targets, "Merged LoRA forward ÷ base forward", mode)
        assert row[5] in ("PASS", "MISS")
    # Keras LoRA was not selected: no row compares against it.
    assert "Keras LoRA step" not in targets

    # Rendering the saved results again gives the same section, byte for byte.
    again = tmp_path / "again.md"
    rerender = [sys.executable, str(SCRIPT), "--from-json", str(raw), "--output", str(again)]
    process = subprocess.run(rerender, capture_output=True, text=True, timeout=120, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    latest = "## Latest results\n"
    assert again.read_text().split(latest)[1] == text.split(latest)[1].split("\n## Notes")[0]

    results = json.loads(raw.read_text())["results"]
    assert sorted(results) == sorted(
        [
            "train:full:off",
            "train:full:on",
            "train:lora:off",
            "train:lora:on",
            "infer:base",
            "infer:lora_merged",
        ]
    )
    assert (
        results["train:lora:on"]["trainable_params"] < results["train:full:on"]["trainable_params"]
    )
    assert all(r["peak_rss_mib"] > 100 for r in results.values())
    assert len(results["train:full:off"]["times_s"]) == 2


def _row_with(text, name, mode):
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:2] == [name, mode]:
            return cells
    raise AssertionError(f"no target row {name!r} ({mode}) in:\n{text}")


def test_quick_writes_no_file_unless_asked(bench):
    _, bench_machine, run_benchmarks = bench
    parser = run_benchmarks.build_parser()
    assert run_benchmarks.output_path(parser.parse_args(["--quick"])) is None
    assert run_benchmarks.output_path(parser.parse_args([])) == (
        bench_machine.REPO_ROOT / "docs" / "benchmarks.md"
    )
    chosen = parser.parse_args(["--quick", "--output", "x.md"])
    assert run_benchmarks.output_path(chosen) == "x.md"


def test_options_and_plan(bench):
    _, _, run_benchmarks = bench
    args = run_benchmarks.build_parser().parse_args(
        ["--methods", "prefix,full", "--inference", "none", "--xla-only"]
    )
    options = run_benchmarks.resolve_options(args)
    assert (options["steps"], options["batch_size"], options["sequence_length"]) == (20, 32, 64)
    # Report order, not command-line order.
    assert run_benchmarks.plan_specs(args, options) == ["train:full:on", "train:prefix:on"]


def test_bad_method_names_are_rejected(bench, capsys):
    _, _, run_benchmarks = bench
    with pytest.raises(SystemExit):
        run_benchmarks.build_parser().parse_args(["--methods", "lora,qlora"])
    assert "qlora" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_benchmarks.build_parser().parse_args(["--no-xla", "--xla-only"])


def test_new_file_gets_the_intro(bench, tmp_path):
    _, bench_machine, _ = bench
    path = tmp_path / "docs" / "benchmarks.md"
    bench_machine.write_results(path, "## Latest results\n\nfirst\n")
    bench_machine.write_results(path, "## Latest results\n\nsecond\n")
    text = path.read_text()
    assert text == bench_machine.INTRO + "## Latest results\n\nsecond\n"
