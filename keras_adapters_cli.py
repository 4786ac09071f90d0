"""Console-script shim for `keras-adapters`.

It lives outside the `keras_adapters` package so that it can quiet
TensorFlow's start-up logging and pick the TensorFlow backend *before*
`import keras_adapters` imports Keras and TensorFlow.
"""

import os
import sys


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from keras_adapters.cli.main import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
