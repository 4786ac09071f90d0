"""The version of keras-adapters."""

__version__ = "0.1.0"
