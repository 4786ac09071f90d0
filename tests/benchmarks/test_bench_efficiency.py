"""`benchmarks/bench_efficiency.py`: matmul peak, useful FLOPs and the efficiency table."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_efficiency  # noqa: E402
import bench_flops  # noqa: E402

MACHINE = {
    "CPU": "Test CPU",
    "Cores": "2",
    "keras": "3",
    "tensorflow": "2",
    "keras-adapters": "0.1.0",
    "Date": "today",
}


@pytest.mark.parametrize("library", ["numpy", "tensorflow", "xla"])
def test_peak_measures_a_positive_rate(library):
    result = bench_efficiency.measure_peak(library, size=64, repeats=3, threads=1)
    assert result["library"] == library
    assert result["best_gflops"] >= result["median_gflops"] > 0


def _options():
    args = bench_efficiency.build_parser().parse_args([])
    return bench_efficiency.options_of(args)


def test_efficiency_is_useful_flops_over_time_over_the_best_peak():
    options = _options()
    flops = bench_flops.step_flops("lora", 16, 128, options["shapes"]).total
    peaks = {
        "tensorflow": [{"best_gflops": 80.0, "median_gflops": 70.0}],
        "xla": [{"best_gflops": 100.0, "median_gflops": 90.0}, {"error": "x"}],
        "numpy": [{"best_gflops": 60.0, "median_gflops": 50.0}],
    }
    # A step taking exactly the time of 50 GFLOP/s: half the 100 GFLOP/s peak.
    median = flops / 50e9
    step = {"median_s": median, "p25_s": median, "p75_s": median}
    text = bench_efficiency.render(
        peaks, {"lora": step}, [(3.0, 0, 0), (3.5, 0, 0)], options, MACHINE
    )
    row = next(line for line in text.splitlines() if line.startswith("| LoRA r=8 (ours)"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[4:] == ["50.0", "0.50", "MISS"]
    assert "Peak used: 100.0 GFLOP/s" in text and "Test CPU" in text and "contended" in text


def test_bad_option_is_refused():
    args = bench_efficiency.build_parser().parse_args(["--steps", "0"])
    with pytest.raises(ValueError, match="Received: 0"):
        bench_efficiency.options_of(args)
