"""The `keras-adapters` command line: train, export, predict, info."""
