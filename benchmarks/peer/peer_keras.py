"""One training method of the keras-adapters side of the peer benchmark, in its own process.

Run by `run_peer.py` with the project's Python (TensorFlow backend, never
together with torch). The model is `bench_configs.build_training_model` on an
`ExactGeluBertBackbone` with MiniLM-L6's shapes and random weights (the
PyTorch side is random too), compiled with AdamW, sparse cross-entropy, no
metrics and `jit_compile=True`; a step is one `train_on_batch` on the same
seeded batch as the PyTorch side, timed by `bench_measure.time_calls`.

The package imported is whichever `keras_adapters` comes first on the path:
`run_peer.py --baseline-root DIR` puts `DIR` first to time another version of
the library in the same interleaved run.
"""

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_configs  # noqa: E402
import bench_measure  # noqa: E402

METHODS = ("full", "lora", "pfeiffer", "houlsby", "prefix")


def set_threads(threads):
    """Pins TensorFlow's intra- and inter-op thread pools (XLA's CPU runtime included)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def measure(method, options):
    """Times `options["steps"]` training steps of `method`; returns a JSON-ready dict."""
    import time

    set_threads(options["threads"])
    import keras
    from keras import ops

    import keras_adapters

    start = time.perf_counter()
    model = bench_configs.build_training_model(method, False, options["seed"], random_weights=True)
    build_s = time.perf_counter() - start
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=None,
        jit_compile=options.get("xla", True),
    )
    inputs, labels = bench_configs.make_batch(
        options["batch_size"],
        options["sequence_length"],
        options["shapes"]["vocabulary_size"],
        options["seed"],
    )
    inputs = {key: ops.convert_to_tensor(value) for key, value in inputs.items()}
    labels = ops.convert_to_tensor(labels)
    timing = bench_measure.time_calls(
        lambda: model.train_on_batch(inputs, labels), options["steps"], options["warmup"]
    )
    return {
        "library": "keras-adapters",
        "method": method,
        "package": str(pathlib.Path(keras_adapters.__file__).parent),
        "build_s": build_s,
        "trainable_params": bench_measure.count_parameters(model.trainable_weights),
        "total_params": bench_measure.count_parameters(model.weights),
        "threads": options["threads"],
        "peak_rss_mib": bench_measure.peak_rss_mib(),
        **timing,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--options", required=True, help="JSON of the run's options")
    parser.add_argument("--result-file", required=True)
    args = parser.parse_args(argv)
    result = measure(args.method, json.loads(args.options))
    pathlib.Path(args.result_file).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
