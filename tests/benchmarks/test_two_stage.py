"""`benchmarks/two_stage.py --quick`: both stages run and the comparison lands in the results file."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "two_stage.py"


@pytest.mark.slow
def test_quick_run_compares_both_conditions_from_the_same_start(tmp_path):
    output = tmp_path / "results.md"
    output.write_text("# Results\n\nkept text\n\n## Later section\n\nalso kept\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(SCRIPT), "--quick", "--seeds", "0"]
    command += ["--runs-dir", str(tmp_path / "runs"), "--output", str(output)]
    subprocess.run(
        command,
        cwd=SCRIPT.parent,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    results = json.loads((tmp_path / "runs" / "results.json").read_text())
    without, with_stage1 = results["stage2"]
    assert (without["condition"], with_stage1["condition"]) == (
        "task adapter only",
        "stage 1 + task adapter",
    )
    # Same budget and start: the same trainable count, steps and initial weights.
    for key in ("trainable_parameters", "steps", "initial_checksum", "labelled_examples"):
        assert without[key] == with_stage1[key]
    assert without["domain_adapter_parameters"] == 0
    assert with_stage1["domain_adapter_parameters"] == results["stage1"]["adapter_parameters"] > 0
    assert with_stage1["domain_adapter_unchanged"] is True
    assert (tmp_path / "runs" / "domain_adapter" / "adapter_config.json").exists()
    text = output.read_text()
    assert text.startswith("# Results\n\nkept text\n")
    assert "## Later section\n\nalso kept" in text
    row = next(line for line in text.splitlines() if line.startswith("| 0 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert float(cells[1]) == pytest.approx(without["test_accuracy"], abs=1e-4)
    assert float(cells[2]) == pytest.approx(with_stage1["test_accuracy"], abs=1e-4)
    assert "bit-for-bit unchanged after stage 2 in every run: True" in text
