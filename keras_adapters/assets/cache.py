"""Where fetched assets live: `resolve_cache_dir` and `cached_assets`.

Layout of a cache folder:

```
<cache>/assets/<name>/            extracted files of one asset
<cache>/assets/<name>/.keras_adapters_asset.json    marker (written last)
<cache>/assets/.tmp-<name>-*/     extraction in progress (renamed when done)
<cache>/wheels/                   wheels placed there by hand (offline use)
```
"""

import json
import os
import pathlib

from keras_adapters.assets.registry import get_asset, list_assets

CACHE_ENV_VAR = "KERAS_ADAPTERS_CACHE"
MARKER_NAME = ".keras_adapters_asset.json"
MARKER_FORMAT = 1


def resolve_cache_dir(cache_dir=None):
    """Returns the folder where assets are cached.

    The first of these that is set wins: the `cache_dir` argument, the
    environment variable `KERAS_ADAPTERS_CACHE`,
    `$XDG_CACHE_HOME/keras_adapters` (when `XDG_CACHE_HOME` is an absolute
    path), `~/.cache/keras_adapters`. The folder is not created.

    Args:
        cache_dir: optional str or `os.PathLike`. An explicit cache folder.

    Returns:
        An absolute `pathlib.Path`.

    Example:
    ```python
    keras_adapters.assets.resolve_cache_dir("/tmp/cache")
    # PosixPath("/tmp/cache")
    ```
    """
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir):
            raise ValueError(
                "`cache_dir` must be None or a non-empty path (str or "
                f"os.PathLike). Received: cache_dir={cache_dir!r}"
            )
        path = pathlib.Path(cache_dir)
    elif os.environ.get(CACHE_ENV_VAR):
        path = pathlib.Path(os.environ[CACHE_ENV_VAR])
    elif os.environ.get("XDG_CACHE_HOME") and os.path.isabs(
        os.path.expanduser(os.environ["XDG_CACHE_HOME"])
    ):
        path = pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "keras_adapters"
    else:
        path = pathlib.Path("~") / ".cache" / "keras_adapters"
    return path.expanduser().absolute()


def cached_assets(cache_dir=None):
    """Lists the assets present in a cache folder.

    Reads only the local disk. Each entry says whether the cached copy can
    be used as it is (`status="ok"`), was made from another pin than the
    registered record (`"stale"`, refetched on next use), is damaged
    (`"corrupt"`, refetched on next use) or has no registered record
    (`"unregistered"`).

    Args:
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.

    Returns:
        A list of dicts sorted by name, with keys `name`, `path`, `status`,
        `package`, `version`, `wheel_sha256` (None where the marker is
        unreadable) and `size_bytes` (bytes of the files on disk).

    Example:
    ```python
    for entry in keras_adapters.assets.cached_assets():
        print(entry["name"], entry["status"], entry["size_bytes"])
    ```
    """
    assets_dir = resolve_cache_dir(cache_dir) / "assets"
    if not assets_dir.is_dir():
        return []
    registered = set(list_assets())
    entries = []
    for folder in sorted(assets_dir.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        marker = read_marker(folder)
        if folder.name in registered:
            status = folder_status(get_asset(folder.name), folder)
        else:
            status = "unregistered"
        entries.append(
            {
                "name": folder.name,
                "path": str(folder),
                "status": status,
                "package": (marker or {}).get("package"),
                "version": (marker or {}).get("version"),
                "wheel_sha256": (marker or {}).get("wheel_sha256"),
                "size_bytes": _folder_size(folder),
            }
        )
    return entries


def asset_folder(record, cache_dir):
    """The folder that holds (or will hold) the files of `record`."""
    return pathlib.Path(cache_dir) / "assets" / record.name


def wheels_folder(cache_dir):
    """The folder where a user may place wheels by hand."""
    return pathlib.Path(cache_dir) / "wheels"


def make_marker(record, folder):
    """The marker dict for `record`, with the sizes of the files in `folder`."""
    return {
        "format": MARKER_FORMAT,
        "name": record.name,
        "package": record.package,
        "version": record.version,
        "wheel_sha256": record.wheel_sha256,
        "files": {
            relative: (folder / relative).stat().st_size for relative in record.relative_files
        },
    }


def read_marker(folder):
    """The marker dict of a cached folder, or None if missing or unreadable."""
    try:
        with open(pathlib.Path(folder) / MARKER_NAME, encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def folder_status(record, folder):
    """`"ok"`, `"missing"`, `"stale"` or `"corrupt"` for a cached folder."""
    folder = pathlib.Path(folder)
    if not folder.exists():
        return "missing"
    marker = read_marker(folder)
    if marker is None or marker.get("format") != MARKER_FORMAT:
        return "corrupt"
    pin = (record.package, record.version, record.wheel_sha256)
    if (
        marker.get("package"),
        marker.get("version"),
        marker.get("wheel_sha256"),
    ) != pin:
        return "stale"
    sizes = marker.get("files")
    if not isinstance(sizes, dict) or set(sizes) != set(record.relative_files):
        return "stale"
    for relative, size in sizes.items():
        path = folder / relative
        if not path.is_file() or path.stat().st_size != size:
            return "corrupt"
    return "ok"


def _folder_size(folder):
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total
