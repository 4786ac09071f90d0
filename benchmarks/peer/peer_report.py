"""The markdown section of the peer benchmark (`run_peer.py`).

`runs` is a list of child results, each with `side` (`"ours"`, `"theirs"`,
`"baseline"`), `method`, and either the timing dict of
`bench_measure.time_calls` or an `error`. Runs of the same side and method
from several rounds are pooled: every timed step counts once in the median.
"""

import statistics

import bench_configs
import bench_report

GOAL = 1.2  # ours ÷ theirs in examples per second
LABELS = {
    "full": "Full fine-tuning",
    "lora": "LoRA (query, value, r 8)",
    "pfeiffer": "Pfeiffer",
    "houlsby": "Houlsby",
    "prefix": "Prefix (10 tokens)",
}
THEIR_SETUP = {
    "full": "every weight trainable",
    "lora": 'peft `LoraConfig(r=8, lora_alpha=8, target_modules=["query", "value"], '
    'modules_to_save=["logits"])`',
    "pfeiffer": "adapters `SeqBnConfig()`",
    "houlsby": "adapters `DoubleSeqBnConfig()`",
    "prefix": "adapters `PrefixTuningConfig(prefix_length=10, flat=True)`",
}


def pooled(runs, side, method):
    """Median, quartiles and the first run's metadata of one side and method, or None."""
    chosen = [r for r in runs if r["side"] == side and r["method"] == method and "error" not in r]
    if not chosen:
        return None
    times = [t for r in chosen for t in r["times_s"]]
    if len(times) >= 2:
        p25, _, p75 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        p25 = p75 = times[0]
    return {**chosen[0], "median_s": statistics.median(times), "p25_s": p25, "p75_s": p75}


def _ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return None
    return numerator["median_s"] / denominator["median_s"]


def _rate(timing, batch_size):
    return "–" if timing is None else f"{batch_size / timing['median_s']:.2f}"


def results_table(runs, settings):
    """One row per method: both sides' step times, examples/s and the ratios."""
    with_baseline = bool(settings.get("baseline_root"))
    header = ["Method"]
    if with_baseline:
        header += ["Ours before (ms ±IQR)"]
    header += [
        "Ours (ms ±IQR)",
        "PyTorch (ms ±IQR)",
        "Ours ex/s",
        "PyTorch ex/s",
        "Ours ÷ PyTorch (ex/s)",
        f"Goal ≥ {GOAL}",
        "Ours ÷ own full (step)",
        "PyTorch ÷ own full (step)",
    ]
    if with_baseline:
        header += ["Before ÷ after (step)"]
    rows = []
    batch = settings["batch_size"]
    for method in settings["methods"]:
        ours, theirs = pooled(runs, "ours", method), pooled(runs, "theirs", method)
        speed = _ratio(theirs, ours)
        row = [LABELS[method]]
        if with_baseline:
            before = pooled(runs, "baseline", method)
            row.append(bench_report._ms(before))
        row += [
            bench_report._ms(ours),
            bench_report._ms(theirs),
            _rate(ours, batch),
            _rate(theirs, batch),
            bench_report._x(speed),
            "–" if speed is None else ("PASS" if speed >= GOAL else "MISS"),
            bench_report._x(_ratio(ours, pooled(runs, "ours", "full"))),
            bench_report._x(_ratio(theirs, pooled(runs, "theirs", "full"))),
        ]
        if with_baseline:
            row.append(bench_report._x(_ratio(before, ours)))
        rows.append(row)
    return bench_report._table(header, rows)


def setup_table(runs, settings):
    """What each side runs, and the trainable parameters it ends up with."""
    rows = []
    for method in settings["methods"]:
        ours, theirs = pooled(runs, "ours", method), pooled(runs, "theirs", method)
        rows.append(
            [
                LABELS[method],
                bench_configs.SETUPS[method],
                THEIR_SETUP[method],
                "–" if ours is None else f"{ours['trainable_params']:,}",
                "–" if theirs is None else f"{theirs['trainable_params']:,}",
            ]
        )
    header = ["Method", "keras-adapters", "PyTorch", "Trainable (ours)", "Trainable (PyTorch)"]
    return bench_report._table(header, rows)


def _load(values):
    return " / ".join(f"{value:.2f}" for value in values)


def settings_table(runs, settings, machine):
    versions = next((r["versions"] for r in runs if r["side"] == "theirs" and "versions" in r), {})
    attention = next((r.get("attention") for r in runs if r["side"] == "theirs"), None)
    shapes = settings["shapes"]
    name = "tiny BERT (quick mode: numbers mean nothing)" if settings.get("quick") else "MiniLM-L6"
    rows = [
        [
            "Model",
            f"{name} shapes with random weights (not pretrained): {shapes['num_layers']} layers, "
            f"hidden {shapes['hidden_dim']}, {shapes['num_heads']} heads, intermediate "
            f"{shapes['intermediate_dim']}, vocabulary {shapes['vocabulary_size']}; masked mean "
            "pooling, dropout 0.1, 2-class head",
        ],
        ["Batch × sequence length", f"{settings['batch_size']} × {settings['sequence_length']}"],
        ["Optimizer", "AdamW, learning rate 1e-4"],
        ["Threads per side", str(settings["threads"])],
        [
            "Timed steps per process × rounds",
            f"{settings['steps']} × {settings['rounds']} (after the first step and "
            f"{settings['warmup']} warm-up steps)",
        ],
        [
            "keras-adapters side",
            "TensorFlow backend, `compile(jit_compile=True)`, `train_on_batch`",
        ],
        [
            "PyTorch side",
            ", ".join(f"{name} {version}" for name, version in versions.items())
            + (f"; attention `{attention}`" if attention else ""),
        ],
        ["CPU (lscpu model name)", machine["CPU"]],
        ["Cores", machine["Cores"]],
        ["keras / tensorflow", f"{machine['keras']} / {machine['tensorflow']}"],
        ["keras-adapters", machine["keras-adapters"]],
        ["Date", machine["Date"]],
        [
            "Load average before → after (1/5/15 min)",
            f"{_load(settings['load_before'])} → {_load(settings['load_after'])}",
        ],
        ["Wall time", f"{settings['wall_s']:.0f} s"],
    ]
    if settings.get("baseline_root"):
        rows.append(["Baseline", "the same code path with an earlier `keras_adapters` package"])
    return bench_report._table(["Setting", "Value"], rows)


def render_section(runs, settings, machine, heading):
    """The whole results section, starting with `heading`."""
    cores = machine["Cores"].split()[0]
    load = max(settings["load_before"][0], settings["load_after"][0])
    note = (
        f"Load note: the 1-minute load average was {_load([settings['load_before'][0]])} "
        f"before and {_load([settings['load_after'][0]])} after the run on {cores} cores"
    )
    note += (
        ": the machine was shared with other jobs (contended), so absolute times are "
        "inflated and noisy; the interleaving spreads that over both sides."
        if load > 0.5 * float(cores)
        else "."
    )
    parts = [
        heading,
        note,
        "### Step time and throughput",
        results_table(runs, settings),
        "### Setups",
        setup_table(runs, settings),
        "### Run",
        settings_table(runs, settings, machine),
    ]
    failed = [r for r in runs if "error" in r]
    if failed:
        lines = [
            f"- {r['side']} {r['method']}: `{r['error'].strip().splitlines()[-1]}`" for r in failed
        ]
        parts += ["### Failed runs", "\n".join(lines)]
    return "\n\n".join(parts) + "\n"
