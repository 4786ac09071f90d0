"""One training method of the keras-adapters side of the peer benchmark, in its own process.

Run by `run_peer.py` with the project's Python (TensorFlow backend, never
together with torch). The measurement is
`bench_measure.measure_random_training`: an `ExactGeluBertBackbone` with
MiniLM-L6's shapes and random weights (the PyTorch side is random too),
compiled with AdamW, sparse cross-entropy, no metrics and
`jit_compile=True`; a step is one `train_on_batch` on the same seeded batch
as the PyTorch side, timed by `bench_measure.time_calls`. The efficiency
benchmark runs it too.

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=bench_configs.TRAIN_METHODS, required=True)
    parser.add_argument("--options", required=True, help="JSON of the run's options")
    parser.add_argument("--result-file", required=True)
    args = parser.parse_args(argv)
    result = bench_measure.measure_random_training(args.method, json.loads(args.options))
    pathlib.Path(args.result_file).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
