"""Decoder LLM speed: training step per method and generation tokens/s, in one run.

Every configuration runs in its own child process of this script
(`--single NAME`) on SmolLM2-135M-Instruct
(`keras_adapters.assets.load_causal_lm_preset`), and the tables go to the
"Latest results: decoder LLM" section of `docs/benchmarks.md`:

- training: one optimizer step (AdamW, XLA) on a fixed batch of real token ids
  with every position in the loss, per method, as a ratio to full fine-tuning;
- generation: greedy cached generation of `--new-tokens` tokens after a
  `--prompt-tokens`-token prompt (XLA, KerasHub's `generate` function),
  tokens per second of the base model, LoRA merged and unmerged, a Pfeiffer
  bottleneck adapter and prefix tuning;
- peak resident memory of each child process.

Usage:

```bash
KERAS_BACKEND=tensorflow python benchmarks/bench_causal_lm.py
KERAS_BACKEND=tensorflow python benchmarks/bench_causal_lm.py --quick --output /tmp/bench.md
```
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_machine  # noqa: E402
from bench_measure import peak_rss_mib, time_calls  # noqa: E402

HEADING = "## Latest results: decoder LLM"
TRAIN = ("full", "lora", "houlsby", "pfeiffer", "parallel", "prefix")
GENERATE = ("base", "lora_merged", "lora_unmerged", "pfeiffer", "prefix")
GENERATE_LABELS = {
    "base": "base model",
    "lora_merged": "LoRA, merged",
    "lora_unmerged": "LoRA, unmerged",
    "pfeiffer": "Pfeiffer adapter",
    "prefix": "prefix tuning",
}
SETUPS = {
    "full": "every weight trainable",
    "lora": '`LoraConfig(rank=8, alpha=16, targets="all-linear")`',
    "houlsby": "`HoulsbyConfig()` (bottleneck = hidden / 16)",
    "pfeiffer": "`PfeifferConfig()` (bottleneck = hidden / 16)",
    "parallel": "`ParallelConfig()` (bottleneck = hidden / 16, tap on the gate input)",
    "prefix": "`PrefixConfig(num_prefix_tokens=10)`",
    "base": "no adapter",
    "lora_merged": "LoRA as above, after `merge_adapters`",
    "lora_unmerged": "LoRA as above, branch computed at every step",
}


def _config(name):
    import keras_adapters

    return {
        "lora": keras_adapters.LoraConfig(rank=8, alpha=16, targets="all-linear"),
        "houlsby": keras_adapters.HoulsbyConfig(),
        "pfeiffer": keras_adapters.PfeifferConfig(),
        "parallel": keras_adapters.ParallelConfig(),
        "prefix": keras_adapters.PrefixConfig(num_prefix_tokens=10),
    }.get(name.replace("_merged", "").replace("_unmerged", ""))


def _model(quick):
    import keras
    import keras_hub

    import keras_adapters

    keras.utils.set_random_seed(0)
    if not quick:
        return keras_adapters.assets.load_causal_lm_preset("smollm2_135m_instruct")
    backbone = keras_hub.models.Llama3Backbone(
        vocabulary_size=256,
        num_layers=2,
        num_query_heads=4,
        num_key_value_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
    )
    return keras_hub.models.Llama3CausalLM(backbone=backbone, preprocessor=None)


def measure(name, options):
    """One configuration, in this (child) process; returns a JSON-able dict."""
    import keras
    import numpy as np

    import keras_adapters

    causal_lm = _model(options["quick"])
    config = _config(name)
    if config is not None:
        keras_adapters.add_adapter(causal_lm, config, "bench", verbose=False)
    vocabulary = causal_lm.backbone.vocabulary_size
    rng = np.random.default_rng(0)
    trainable = sum(int(np.prod(v.shape)) for v in causal_lm.trainable_weights)
    if options["kind"] == "train":
        batch, length = options["batch_size"], options["sequence_length"]
        token_ids = rng.integers(1, vocabulary, size=(batch, length + 1)).astype("int32")
        x = {"token_ids": token_ids[:, :-1], "padding_mask": np.ones((batch, length), "int32")}
        y = token_ids[:, 1:]
        causal_lm.preprocessor = None
        causal_lm.compile(
            optimizer=keras.optimizers.AdamW(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        timing = time_calls(
            lambda: causal_lm.train_on_batch(x, y), options["steps"], options["warmup"]
        )
        result = {"kind": "train", "tokens_per_step": batch * length}
    else:
        if name == "lora_merged":
            keras_adapters.merge_adapters(causal_lm)
        batch, prompt, new = (
            options["generate_batch"],
            options["prompt_tokens"],
            options["new_tokens"],
        )
        token_ids = np.zeros((batch, prompt + new), "int32")
        token_ids[:, :prompt] = rng.integers(1, vocabulary, size=(batch, prompt))
        padding_mask = np.zeros_like(token_ids)
        padding_mask[:, :prompt] = 1
        causal_lm.compile(sampler="greedy")
        generate = causal_lm.make_generate_function()
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        timing = time_calls(
            lambda: np.asarray(generate(inputs, stop_token_ids=None)["token_ids"]),
            options["steps"],
            options["warmup"],
        )
        result = {"kind": "generate", "new_tokens": batch * new}
    return {
        **result,
        "name": name,
        "trainable": trainable,
        "timing": timing,
        "peak_mib": peak_rss_mib(),
    }


def _run_child(name, options):
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "result.json")
        command = [
            sys.executable,
            __file__,
            "--single",
            name,
            "--result",
            out,
            "--options",
            json.dumps(options),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        if completed.returncode != 0:
            return {"name": name, "error": completed.stderr.strip().splitlines()[-1:]}
        with open(out) as handle:
            return json.load(handle)


def render(results, options, machine):
    train = {r["name"]: r for r in results if r.get("kind") == "train"}
    gen = {r["name"]: r for r in results if r.get("kind") == "generate"}
    full = train.get("full", {}).get("timing", {}).get("median_s")
    base = gen.get("base", {}).get("timing", {}).get("median_s")
    lines = [
        HEADING,
        "",
        f"Measured {machine['Date']} on {machine['CPU']} ({machine['Cores']} cores, load "
        f"{machine['Load average at start (1/5/15 min)']}); keras {machine['keras']}, tensorflow "
        f"{machine['tensorflow']}, keras-hub {machine['keras-hub']}; "
        f"{'tiny random Llama 3 (--quick)' if options['quick'] else 'SmolLM2-135M-Instruct'}.",
        "",
    ]
    lines += [
        f"Training: batch {options['batch_size']} x {options['sequence_length']} tokens, AdamW, "
        f"XLA, median of {options['steps']} steps after {options['warmup']} warm-up steps.",
        "",
        "| method | setup | trainable | first step (s) | step (s) | step / full | peak memory (MiB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in TRAIN:
        r = train.get(name)
        if r is None or "error" in r:
            lines.append(f"| {name} | {SETUPS[name]} | failed: {r and r.get('error')} | | | | |")
            continue
        t = r["timing"]
        ratio = f"{t['median_s'] / full:.2f}" if full else "–"
        lines.append(
            f"| {name} | {SETUPS[name]} | {r['trainable']:,} | {t['first_s']:.1f} | "
            f"{t['median_s']:.3f} | {ratio} | {r['peak_mib']:.0f} |"
        )
    lines += [
        "",
        f"Generation: batch {options['generate_batch']}, {options['prompt_tokens']}-token prompt, "
        f"{options['new_tokens']} new tokens, greedy, key/value cache, XLA.",
        "",
        "| model | setup | tokens/s | time / base | peak memory (MiB) |",
        "|---|---|---:|---:|---:|",
    ]
    for name in GENERATE:
        r = gen.get(name)
        if r is None or "error" in r:
            lines.append(
                f"| {GENERATE_LABELS[name]} | {SETUPS[name]} | failed: {r and r.get('error')} | | |"
            )
            continue
        t = r["timing"]["median_s"]
        ratio = f"{t / base:.3f}" if base else "–"
        lines.append(
            f"| {GENERATE_LABELS[name]} | {SETUPS[name]} | {r['new_tokens'] / t:.1f} | {ratio} | "
            f"{r['peak_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny random Llama 3, for tests")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed calls (default 10; --quick: 2)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls after the first")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sequence-length", type=int, default=96)
    parser.add_argument("--generate-batch", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--output", default=str(bench_machine.REPO_ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--options", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single:
        options = json.loads(args.options)
        with open(args.result, "w") as handle:
            json.dump(measure(args.single, options), handle)
        return 0
    options = {
        "quick": args.quick,
        "steps": args.steps or (2 if args.quick else 10),
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "sequence_length": args.sequence_length,
        "generate_batch": args.generate_batch,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
    }
    machine = bench_machine.machine_info()
    started, results = time.time(), []
    for kind, names in (("train", TRAIN), ("generate", GENERATE)):
        for name in names:
            result = _run_child(name, {**options, "kind": kind})
            print(
                f"{kind:8s} {name:14s} {json.dumps(result.get('timing', result.get('error')))[:120]}",
                flush=True,
            )
            results.append(result)
    section = (
        render(results, options, machine)
        + f"\nWall time of the run: {time.time() - started:.0f} s.\n"
    )
    print(section)
    bench_machine.write_results(args.output, section, heading=HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
