"""Measuring one configuration, inside its own child process.

`run_benchmarks.py --single SPEC` calls `measure(SPEC, options)` and writes the
returned dict as JSON. Each configuration runs alone in a fresh process, so
the peak resident set size (`ru_maxrss`) is its own and nothing left over from
another configuration (traced functions, XLA caches, freed-but-kept memory)
can change its timings.

Timing protocol for every configuration:

1. the first call is timed on its own ("first step"): it traces the function
   and, with `jit_compile=True`, compiles it with XLA;
2. `warmup` more calls run untimed;
3. `steps` calls are timed one by one; the median is reported.

Training uses `model.train_on_batch` on one fixed batch held as tensors: each
call is exactly one optimizer step, it returns the loss as a NumPy value (so
the step has finished when the clock stops), and there is no input pipeline,
callback or progress bar in the measured time. Inference uses
`model.predict_on_batch` the same way.
"""

import math
import os
import resource
import statistics
import sys
import time

import bench_configs


def peak_rss_mib():
    """The peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def time_calls(function, steps, warmup):
    """Times `function()`: first call, then `warmup` untimed, then `steps` timed calls.

    Returns:
        A dict with `first_s`, `median_s`, `p25_s`, `p75_s` and `times_s`.
    """
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    for _ in range(warmup):
        function()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    if len(times) >= 2:
        p25, _, p75 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        p25 = p75 = times[0]
    return {
        "first_s": first,
        "median_s": statistics.median(times),
        "p25_s": p25,
        "p75_s": p75,
        "times_s": times,
    }


def count_parameters(variables):
    """The number of scalars in `variables`."""
    return int(sum(math.prod(variable.shape) for variable in variables))


def _batch_tensors(model, options):
    from keras import ops

    backbone = model.backbone
    inputs, labels = bench_configs.make_batch(
        options["batch_size"],
        options["sequence_length"],
        backbone.vocabulary_size,
        options["seed"],
    )
    # Tensors, not NumPy arrays: no host-to-tensor conversion inside the timing.
    inputs = {key: ops.convert_to_tensor(value) for key, value in inputs.items()}
    return inputs, ops.convert_to_tensor(labels)


def _check_length(model, options):
    limit = model.backbone.max_sequence_length
    if options["sequence_length"] > limit:
        raise ValueError(
            f"`--sequence-length` must be at most {limit} for this backbone. "
            f"Received: sequence_length={options['sequence_length']}"
        )


def measure_training(method, xla, options):
    """Training step times of one method with XLA on or off."""
    import keras

    start = time.perf_counter()
    model = bench_configs.build_training_model(method, options["quick"], options["seed"])
    build_s = time.perf_counter() - start
    _check_length(model, options)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=None,  # the step alone, no metric updates
        jit_compile=xla,
    )
    inputs, labels = _batch_tensors(model, options)
    rss_built = peak_rss_mib()
    timing = time_calls(
        lambda: model.train_on_batch(inputs, labels),
        options["steps"],
        options["warmup"],
    )
    return {
        "build_s": build_s,
        "trainable_params": count_parameters(model.trainable_weights),
        "total_params": count_parameters(model.weights),
        "rss_built_mib": rss_built,
        **timing,
    }


def set_tensorflow_threads(threads):
    """Pins TensorFlow's intra- and inter-op thread pools (XLA's CPU runtime included)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def measure_random_training(method, options):
    """Training step times of `method` on a BERT of `options["shapes"]` with random weights.

    Used by the peer and efficiency benchmarks: `options` holds `threads`,
    `seed`, `batch_size`, `sequence_length`, `steps`, `warmup`, `shapes`
    (`bench_configs.MINILM_SHAPES`) and optionally `xla` (default on). The
    model is compiled with AdamW, sparse cross-entropy and no metrics; a step
    is one `train_on_batch` on the seeded batch of `bench_configs.make_batch`.
    """
    set_tensorflow_threads(options["threads"])
    import keras

    import keras_adapters

    start = time.perf_counter()
    model = bench_configs.build_training_model(
        method, False, options["seed"], shapes=options["shapes"]
    )
    build_s = time.perf_counter() - start
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=None,
        jit_compile=options.get("xla", True),
    )
    inputs, labels = _batch_tensors(model, options)
    timing = time_calls(
        lambda: model.train_on_batch(inputs, labels), options["steps"], options["warmup"]
    )
    return {
        "library": "keras-adapters",
        "method": method,
        "package": os.path.dirname(keras_adapters.__file__),
        "build_s": build_s,
        "trainable_params": count_parameters(model.trainable_weights),
        "total_params": count_parameters(model.weights),
        "threads": options["threads"],
        "peak_rss_mib": peak_rss_mib(),
        **timing,
    }


def measure_inference(name, modes, options):
    """Forward-pass times of one inference configuration, for each XLA mode."""
    start = time.perf_counter()
    model = bench_configs.build_inference_model(name, options["quick"], options["seed"])
    build_s = time.perf_counter() - start
    _check_length(model, options)
    inputs, _ = _batch_tensors(model, options)
    steps = options["inference_steps"] or options["steps"]
    per_mode = {}
    for xla in modes:
        model.compile(jit_compile=xla)  # also drops the previous predict function
        per_mode["on" if xla else "off"] = time_calls(
            lambda: model.predict_on_batch(inputs), steps, options["warmup"]
        )
    return {
        "build_s": build_s,
        "trainable_params": count_parameters(model.trainable_weights),
        "total_params": count_parameters(model.weights),
        "modes": per_mode,
    }


def parse_spec(spec):
    """Splits a spec: `"train:lora:on"` -> `("train", "lora", True)`.

    `"infer:base"` -> `("infer", "base", None)`: an inference child measures
    every selected XLA mode itself.
    """
    parts = spec.split(":")
    if parts[0] == "train" and len(parts) == 3 and parts[2] in ("on", "off"):
        if parts[1] in bench_configs.TRAIN_METHODS:
            return "train", parts[1], parts[2] == "on"
    if parts[0] == "infer" and len(parts) == 2 and parts[1] in bench_configs.INFERENCE_CONFIGS:
        return "infer", parts[1], None
    raise ValueError(
        "`--single` must be `train:METHOD:on|off` or `infer:CONFIG`, with METHOD in "
        f"{bench_configs.TRAIN_METHODS} and CONFIG in {bench_configs.INFERENCE_CONFIGS}. "
        f"Received: {spec!r}"
    )


def measure(spec, options):
    """Measures the configuration named by `spec`; returns a JSON-ready dict."""
    kind, name, xla = parse_spec(spec)
    # Import everything first, so that `build_s` times model building only.
    import keras_adapters.assets  # noqa: F401
    import keras_adapters.models  # noqa: F401

    if kind == "train":
        result = measure_training(name, xla, options)
    else:
        result = measure_inference(name, options["modes"], options)
    result.update(spec=spec, kind=kind, name=name, xla=xla, peak_rss_mib=peak_rss_mib())
    return result
