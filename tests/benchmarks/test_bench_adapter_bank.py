"""`benchmarks/bench_adapter_bank.py --quick`: every configuration runs and lands in the tables."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_adapter_bank.py"


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
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--ks", "1,4", "--output", str(output)],
        cwd=SCRIPT.parent,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    text = output.read_text()
    assert text.startswith("# Benchmarks\n\nkept text\n")
    assert "## Latest results: many adapters in one SavedModel" in text
    assert _row(text, "merged single adapter (reference)")[3] == "1.00"
    for k in ("1", "4"):
        bank_ms, _, bank_ratio, switchable_ms, _, switchable_ratio, rate = _row(text, k)[1:8]
        assert float(bank_ms) > 0 and float(bank_ratio) > 0 and float(rate) > 0
        assert float(switchable_ms) > 0 and float(switchable_ratio) > 0
    assert "KiB per slot" in _row(text, "bank, `max_adapters=4`")[4]
    assert "Target: a mixed batch of K=16" in text
