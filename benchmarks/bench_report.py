"""Turning child-process results into the markdown tables of `docs/benchmarks.md`.

`results` maps a spec (`"train:lora:on"`, `"infer:base"`) to the dict that
`bench_measure.measure` returned, or to `{"error": "..."}` when the child
failed. The layout depends only on the selected methods and modes, never on
the numbers, so a rerun replaces numbers and keeps the structure.
"""

import bench_configs
from bench_machine import RESULTS_HEADING

# Thresholds of the targets we report against (ratios of medians).
LORA_VS_KERAS_MAX = 1.00
ADAPTER_VS_FULL_MAX = 0.90
MERGED_VS_BASE_MAX = 1.02


def _train(results, method, mode):
    result = results.get(f"train:{method}:{mode}")
    return None if result is None or "error" in result else result


def _infer(results, name, mode):
    result = results.get(f"infer:{name}")
    if result is None or "error" in result:
        return None
    return result["modes"].get(mode)


def _ratio(numerator, denominator):
    if numerator is None or denominator is None:
        return None
    return numerator["median_s"] / denominator["median_s"]


def _iqr_percent(timing):
    return 100.0 * (timing["p75_s"] - timing["p25_s"]) / timing["median_s"]


def _ms(timing):
    if timing is None:
        return "–"
    return f"{timing['median_s'] * 1000:,.1f} ±{_iqr_percent(timing):.0f}%"


def _x(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def _pair(values, fmt):
    shown = ["–" if value is None else fmt(value) for value in values]
    return " / ".join(shown)


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _state(results, spec):
    result = results.get(spec)
    if result is None:
        return "not run"
    return "FAILED" if "error" in result else None


def methods_table(results, settings):
    """Setup and trainable parameters of each training method."""
    rows = []
    for method in settings["methods"]:
        measured = [_train(results, method, mode) for mode in settings["modes"]]
        result = next((r for r in measured if r is not None), None)
        if result is None:
            params = share = "–"
        else:
            params = f"{result['trainable_params']:,}"
            share = f"{100.0 * result['trainable_params'] / result['total_params']:.2f}%"
        rows.append([bench_configs.LABELS[method], bench_configs.SETUPS[method], params, share])
    return _table(["Method", "Setup", "Trainable params", "Of all params"], rows)


def training_table(results, settings):
    """Median step times, ratios to full fine-tuning, first steps and memory."""
    modes = settings["modes"]
    header = ["Method"]
    for mode in modes:
        header += [f"Step, XLA {mode} (ms ±IQR)", "÷ full"]
    if modes == ["off", "on"]:
        header.append("XLA speed-up")
    header += [
        f"First step, XLA {' / '.join(modes)} (s)",
        f"Peak RSS, XLA {' / '.join(modes)} (MiB)",
    ]
    rows = []
    for method in settings["methods"]:
        row = [bench_configs.LABELS[method]]
        timings = [_train(results, method, mode) for mode in modes]
        for mode, timing in zip(modes, timings):
            failed = _state(results, f"train:{method}:{mode}")
            row += [failed or _ms(timing), _x(_ratio(timing, _train(results, "full", mode)))]
        if modes == ["off", "on"]:
            row.append(_x(_ratio(timings[0], timings[1])))  # off ÷ on
        row.append(_pair([t and t["first_s"] for t in timings], lambda v: f"{v:.2f}"))
        row.append(_pair([t and t["peak_rss_mib"] for t in timings], lambda v: f"{v:,.0f}"))
        rows.append(row)
    return _table(header, rows)


def inference_table(results, settings):
    """Median forward times and ratios to the base model."""
    modes = settings["modes"]
    header = ["Model", "Setup"]
    for mode in modes:
        header += [f"Forward, XLA {mode} (ms ±IQR)", "÷ base"]
    header += [f"First call, XLA {' / '.join(modes)} (s)", "Params", "Peak RSS (MiB)"]
    rows = []
    for name in settings["inference"]:
        result = results.get(f"infer:{name}")
        failed = _state(results, f"infer:{name}")
        row = [bench_configs.LABELS[name], bench_configs.INFERENCE_SETUPS[name]]
        timings = [_infer(results, name, mode) for mode in modes]
        for mode, timing in zip(modes, timings):
            base = _infer(results, "base", mode)
            row += [failed or _ms(timing), _x(_ratio(timing, base), 3)]
        row.append(_pair([t and t["first_s"] for t in timings], lambda v: f"{v:.2f}"))
        ok = failed is None
        row.append(f"{result['total_params']:,}" if ok else "–")
        row.append(f"{result['peak_rss_mib']:,.0f}" if ok else "–")
        rows.append(row)
    return _table(header, rows)


def targets(results, settings):
    """Each target whose two sides were run, as a dict.

    Keys: name, mode, value (ratio of medians), threshold, noise (the larger
    IQR of the two sides, in percent), result (PASS, MISS or n/a (failed)).
    """
    checks = []
    for mode in settings["modes"]:
        pairs = [
            (
                "LoRA (ours) step ÷ Keras LoRA step",
                (f"train:lora:{mode}", f"train:keras_lora:{mode}"),
                _train(results, "lora", mode),
                _train(results, "keras_lora", mode),
                LORA_VS_KERAS_MAX,
            )
        ]
        for method in bench_configs.OUR_METHODS:
            pairs.append(
                (
                    f"{bench_configs.LABELS[method]} step ÷ full fine-tuning step",
                    (f"train:{method}:{mode}", f"train:full:{mode}"),
                    _train(results, method, mode),
                    _train(results, "full", mode),
                    ADAPTER_VS_FULL_MAX,
                )
            )
        pairs.append(
            (
                "Merged LoRA forward ÷ base forward",
                ("infer:lora_merged", "infer:base"),
                _infer(results, "lora_merged", mode),
                _infer(results, "base", mode),
                MERGED_VS_BASE_MAX,
            )
        )
        for name, specs, measured, reference, threshold in pairs:
            if not all(spec in results for spec in specs):
                continue  # a side was not selected: no row
            value = _ratio(measured, reference)
            noise = None if value is None else max(map(_iqr_percent, (measured, reference)))
            if value is None:
                verdict = "n/a (failed)"
            else:
                verdict = "PASS" if value <= threshold else "MISS"
            checks.append(
                dict(
                    name=name,
                    mode=mode,
                    value=value,
                    threshold=threshold,
                    noise=noise,
                    result=verdict,
                )
            )
    return checks


def targets_table(checks):
    rows = [
        [
            c["name"],
            c["mode"],
            _x(c["value"], 3),
            f"≤ {c['threshold']:.2f}",
            "–" if c["noise"] is None else f"{c['noise']:.1f}%",
            c["result"],
        ]
        for c in checks
    ]
    return _table(["Target", "XLA", "Measured", "Threshold", "Noise (IQR)", "Result"], rows)


def _status(settings):
    if settings["quick"]:
        return "quick mode: tiny random model, numbers say nothing about real speed"
    if min(settings["steps"], settings["inference_steps"]) < 10:
        return "smoke test: fewer than 10 timed steps, treat the numbers as rough"
    return "full run"


def settings_table(settings):
    if settings["quick"]:
        q = bench_configs.QUICK_BACKBONE
        backbone = (
            f"tiny random `BertBackbone` ({q['num_layers']} layers, hidden {q['hidden_dim']})"
        )
    else:
        backbone = 'MiniLM-L6 (`load_backbone_preset("minilm_l6")`, exact GELU)'
    rows = [
        ["Status", _status(settings)],
        ["Backbone", backbone],
        ["Batch × sequence length", f"{settings['batch_size']} × {settings['sequence_length']}"],
        [
            "Timed steps (training / inference)",
            f"{settings['steps']} / {settings['inference_steps']}",
        ],
        ["Warm-up steps after the first", str(settings["warmup"])],
        ["Seed", str(settings["seed"])],
        ["Configurations run at once", str(settings["jobs"])],
        ["Wall time of the run", f"{settings['wall_s']:.0f} s"],
    ]
    return _table(["Setting", "Value"], rows)


def _last_line(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return f"`{lines[-1]}`" if lines else "(no message)"


def render_section(results, settings, machine):
    """The whole "Latest results" markdown section."""
    checks = targets(results, settings)
    counts = {v: sum(c["result"].startswith(v) for c in checks) for v in ("PASS", "MISS", "n/a")}
    summary = f"Targets: {counts['PASS']} PASS, {counts['MISS']} MISS"
    summary += f", {counts['n/a']} failed to run." if counts["n/a"] else "."
    parts = [
        RESULTS_HEADING,
        summary,
        "### Run",
        settings_table(settings),
        "### Machine",
        _table(["Item", "Value"], [[key, value] for key, value in machine.items()]),
    ]
    if settings["methods"]:
        parts += [
            "### Methods and trainable parameters",
            methods_table(results, settings),
            "### Training step",
            training_table(results, settings),
        ]
    if settings["inference"]:
        parts += ["### Inference", inference_table(results, settings)]
    parts += ["### Targets", targets_table(checks)]
    failed = {spec: r["error"] for spec, r in results.items() if "error" in r}
    if failed:
        lines = [f"- `{spec}`: {_last_line(error)}" for spec, error in failed.items()]
        parts += ["### Failed configurations", "\n".join(lines)]
    return "\n\n".join(parts) + "\n"
