"""`benchmarks/bench_causal_lm.py --quick`: every configuration runs and lands in the table."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_causal_lm.py"


def _row(text, first_cell):
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{text}")


@pytest.mark.slow
def test_quick_run_writes_both_tables(tmp_path):
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nkept text\n")
    subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(output), "--new-tokens", "8"],
        cwd=SCRIPT.parent,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    text = output.read_text()
    assert (
        text.startswith("# Benchmarks\n\nkept text\n") and "## Latest results: decoder LLM" in text
    )
    assert _row(text, "full")[5] == "1.00"
    for name in ("lora", "houlsby", "pfeiffer", "parallel", "prefix"):
        assert float(_row(text, name)[5]) > 0
    assert _row(text, "base model")[3] == "1.000"
    for name in ("LoRA, merged", "LoRA, unmerged", "Pfeiffer adapter", "prefix tuning"):
        assert float(_row(text, name)[2]) > 0
