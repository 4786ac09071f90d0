"""`benchmarks/peer/`: the PyTorch peer benchmark's plan, children and table.

The end-to-end run needs a separate PyTorch environment: it runs only when
`KERAS_ADAPTERS_TORCH_PYTHON` names that environment's Python (and with
`--slow`). The rest checks the orchestration and the arithmetic of the
table on made-up results.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

PEER = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "peer"
sys.path.insert(0, str(PEER.parent))
sys.path.insert(0, str(PEER))

import peer_report  # noqa: E402
import run_peer  # noqa: E402

MACHINE = {
    "CPU": "Test CPU",
    "Cores": "2",
    "keras": "3",
    "tensorflow": "2",
    "keras-adapters": "0.1.0",
    "Date": "today",
}


def _args(*extra):
    return run_peer.build_parser().parse_args(["--torch-python", "/opt/torch/bin/python", *extra])


def test_sides_are_interleaved_method_by_method():
    args = _args("--methods", "full,lora", "--rounds", "2", "--baseline-root", "/old")
    run_peer.options_of(args)
    assert run_peer.schedule(args) == [
        (side, method)
        for _ in range(2)
        for method in ("full", "lora")
        for side in ("baseline", "ours", "theirs")
    ]
    assert ("baseline", "full") not in run_peer.schedule(_args("--methods", "full"))


def test_torch_runs_in_its_own_python_and_ours_from_the_chosen_package():
    args = _args("--baseline-root", "/old")
    run_peer.options_of(args)
    theirs, _ = run_peer.child_command("theirs", "lora", args, "r.json")
    assert theirs[0] == "/opt/torch/bin/python" and theirs[1].endswith("peer_torch.py")
    ours, env = run_peer.child_command("ours", "lora", args, "r.json")
    assert ours[0] == sys.executable and ours[1].endswith("peer_keras.py")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(run_peer.bench_machine.REPO_ROOT)
    _, env = run_peer.child_command("baseline", "lora", args, "r.json")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == "/old"
    assert json.loads(ours[ours.index("--options") + 1])["shapes"]["hidden_dim"] == 384


def test_unknown_method_is_refused(capsys):
    with pytest.raises(SystemExit):
        _args("--methods", "ia3")
    assert "Received: 'ia3'" in capsys.readouterr().err


def _run(side, method, times, **extra):
    return {"side": side, "method": method, "times_s": times, "trainable_params": 10, **extra}


def test_table_pools_rounds_and_compares_examples_per_second():
    runs = [
        _run("ours", "full", [1.0, 1.0]),
        _run("theirs", "full", [1.5], versions={"torch": "2.13.0+cpu"}),
        _run("ours", "full", [1.0]),
        _run("ours", "lora", [0.5, 0.5, 0.5]),
        _run("theirs", "lora", [0.55, 0.55, 0.55]),
    ]
    settings = {
        **run_peer.options_of(_args()),
        "methods": ["full", "lora"],
        "rounds": 2,
        "load_before": [3.0, 2.0, 1.0],
        "load_after": [4.0, 2.0, 1.0],
        "wall_s": 10.0,
    }
    text = peer_report.render_section(runs, settings, MACHINE, run_peer.HEADING)
    rows = {}  # the first table's row of each method
    for line in text.splitlines():
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    full = [cell.strip() for cell in rows["Full fine-tuning"].strip("|").split("|")]
    # 16 examples in 1.0 s against 1.5 s: 16.00 vs 10.67 ex/s, ratio 1.50.
    assert full[3:7] == ["16.00", "10.67", "1.50", "PASS"]
    lora = [cell.strip() for cell in rows["LoRA (query, value, r 8)"].strip("|").split("|")]
    assert lora[5:9] == ["1.10", "MISS", "0.50", "0.37"]
    assert "contended" in text and "3.00 before and 4.00 after" in text
    assert "torch 2.13.0+cpu" in text and "Test CPU" in text


def test_failed_run_is_listed():
    runs = [_run("ours", "full", [1.0]), {"side": "theirs", "method": "full", "error": "x\nboom"}]
    settings = {
        **run_peer.options_of(_args()),
        "methods": ["full"],
        "rounds": 1,
        "load_before": [0.1, 0, 0],
        "load_after": [0.1, 0, 0],
        "wall_s": 1.0,
    }
    text = peer_report.render_section(runs, settings, MACHINE, run_peer.HEADING)
    assert "- theirs full: `boom`" in text and "contended" not in text


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("KERAS_ADAPTERS_TORCH_PYTHON"),
    reason="set KERAS_ADAPTERS_TORCH_PYTHON to a Python with torch, peft and adapters",
)
def test_quick_run_end_to_end(tmp_path):
    output = tmp_path / "benchmarks.md"
    command = [sys.executable, str(PEER / "run_peer.py"), "--quick", "--output", str(output)]
    command += ["--torch-python", os.environ["KERAS_ADAPTERS_TORCH_PYTHON"]]
    process = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    text = output.read_text()
    assert text.startswith("# Benchmarks") and run_peer.HEADING in text
    for label in peer_report.LABELS.values():
        assert f"| {label} |" in text
