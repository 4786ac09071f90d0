"""Helpers shared by the tests: tiny KerasHub models and NumPy references."""
