"""Gradient checkpointing: peak memory and step time with and without, in one run.

Usage (from the repository root):

    python benchmarks/bench_gradient_checkpointing.py [--models minilm,smollm2]
        [--batch 16] [--length 256] [--steps 3] [--no-xla]

For each model and setting (off, on) a fresh child process builds the model
(a MiniLM-L6-shaped classifier with random weights and no dropout, as
`bench_configs` builds it; SmolLM2-135M-Instruct causal LM, which has none),
adds LoRA (rank 8, query and value), calls
`keras_adapters.gradient_checkpointing(model, enabled=...)`, compiles AdamW
(XLA unless `--no-xla`) and times `train_on_batch` on one fixed batch
(`bench_measure.time_calls`: first call, 1 warm-up, then `--steps` timed).
Peak memory is the child's peak resident set size (`ru_maxrss`): TensorFlow
keeps its CPU tensors in process memory, where `tracemalloc` cannot see them
and `tf.config.experimental.get_memory_info` does not report for CPU. It
includes the weights, the runtime and XLA's compiler, so the ratio of peaks
understates the ratio of activation memory. Off and on run one after the
other for each model. Prints a Markdown table of ratios on / off.
"""

import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def _model(name, batch, length):
    """`(model, x, y)` for one training step of `name`."""
    import bench_configs
    import numpy as np

    import keras_adapters

    rng = np.random.default_rng(0)
    config = keras_adapters.LoraConfig(rank=8, modules_to_save=None)
    if name == "minilm":
        shapes = dict(bench_configs.MINILM_SHAPES, dropout=0.0)  # checkpointing refuses dropout
        model, _ = bench_configs.build_classifier(quick=False, seed=0, shapes=shapes)
        keras_adapters.add_adapter(model, config, "bench", verbose=False)
        x, y = bench_configs.make_batch(batch, length, 30522, seed=0)
        return model, x, y
    model = keras_adapters.assets.load_causal_lm_preset("smollm2_135m_instruct")
    model.preprocessor = None
    keras_adapters.add_adapter(model, config, "bench", verbose=False)
    vocabulary = model.backbone.vocabulary_size
    token_ids = rng.integers(1, vocabulary, size=(batch, length + 1)).astype("int32")
    x = {"token_ids": token_ids[:, :-1], "padding_mask": np.ones((batch, length), "int32")}
    return model, x, token_ids[:, 1:]


def measure(name, enabled, batch, length, steps, xla):
    import bench_measure
    import keras

    import keras_adapters

    model, x, y = _model(name, batch, length)
    keras_adapters.gradient_checkpointing(model, enabled=enabled)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=xla,
    )
    timing = bench_measure.time_calls(lambda: model.train_on_batch(x, y), steps, warmup=1)
    return {"step_s": timing["median_s"], "peak_rss_mib": bench_measure.peak_rss_mib()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm,smollm2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-xla", dest="xla", action="store_false")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape = ["--batch", str(args.batch), "--length", str(args.length), "--steps", str(args.steps)]
    shape += [] if args.xla else ["--no-xla"]
    if args.single:
        name, enabled = args.single.split(":")
        result = measure(name, enabled == "on", args.batch, args.length, args.steps, args.xla)
        print(json.dumps(result))
        return
    print(f"batch {args.batch} x {args.length} tokens, LoRA r 8 (query, value), XLA {args.xla}")
    print("| model | step s off | step s on | step on/off | peak RSS MiB off | on | on/off |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        results = {}
        for setting in ("off", "on"):
            command = [sys.executable, __file__, "--single", f"{name}:{setting}", *shape]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name} {setting} failed:\n{done.stderr[-3000:]}")
            results[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        off, on = results["off"], results["on"]
        print(
            f"| {name} | {off['step_s']:.2f} | {on['step_s']:.2f} | "
            f"{on['step_s'] / off['step_s']:.2f} | {off['peak_rss_mib']:.0f} | "
            f"{on['peak_rss_mib']:.0f} | {on['peak_rss_mib'] / off['peak_rss_mib']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
