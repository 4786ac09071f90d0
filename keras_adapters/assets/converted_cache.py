"""`converted_folder`: build a derived folder once, atomically, and reuse it.

Layout inside a cache folder (next to `assets/`, see
`keras_adapters.assets.cache`):

```
<cache>/converted/<name>/                                 converted files
<cache>/converted/<name>/.keras_adapters_converted.json   marker (last)
<cache>/converted/.tmp-<name>-*/                          build in progress
```
"""

import json
import logging
import os
import pathlib
import shutil
import tempfile

logger = logging.getLogger(__name__)

MARKER_NAME = ".keras_adapters_converted.json"
MARKER_FORMAT = 1


def converted_folder(name, source_sha256, converter, build, cache_dir):
    """Returns `<cache>/converted/<name>`, building it first if needed.

    The folder is reused when its marker names the same source hash and
    converter version and every file it lists has its recorded size.
    Otherwise `build(staging)` writes the files into a fresh temporary
    folder next to the target, the marker is written last, and the folder
    is moved into place with one rename: an interrupted build leaves only
    a `.tmp-*` folder (removed on the way out) and never a half-written
    `<name>` folder.

    Args:
        name: str. The folder name, e.g. `"smollm2_135m_instruct"`.
        source_sha256: str. The sha256 of the file the folder is built from.
        converter: str. The converter and its output version, e.g.
            `"llama_gguf/1"`; changing it invalidates cached folders.
        build: callable `(staging: pathlib.Path) -> None`.
        cache_dir: `pathlib.Path`. A resolved cache folder.

    Returns:
        The `pathlib.Path` of the folder.
    """
    folder = pathlib.Path(cache_dir) / "converted" / name
    status = converted_status(folder, source_sha256, converter)
    if status == "ok":
        return folder
    if status != "missing":
        logger.warning("Converted folder %s is %s; converting again.", folder, status)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise ValueError(
            "The asset cache must be a folder, but a file is in the way: "
            f"{error.filename}. Received: cache_dir={str(cache_dir)!r}"
        ) from error
    staging = pathlib.Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{name}-"))
    try:
        build(staging)
        marker = {
            "format": MARKER_FORMAT,
            "name": name,
            "source_sha256": source_sha256,
            "converter": converter,
            "files": _file_sizes(staging),
        }
        with open(staging / MARKER_NAME, "w", encoding="utf-8") as f:
            json.dump(marker, f, indent=2)
        _install(staging, folder, source_sha256, converter)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def converted_status(folder, source_sha256, converter):
    """`"ok"`, `"missing"`, `"stale"` or `"corrupt"` for a converted folder."""
    folder = pathlib.Path(folder)
    if not folder.exists():
        return "missing"
    marker = read_marker_file(folder)
    if marker is None or marker.get("format") != MARKER_FORMAT:
        return "corrupt"
    if (marker.get("source_sha256"), marker.get("converter")) != (
        source_sha256,
        converter,
    ):
        return "stale"
    sizes = marker.get("files")
    if not isinstance(sizes, dict) or not sizes:
        return "corrupt"
    for relative, size in sizes.items():
        path = folder / relative
        if not path.is_file() or path.stat().st_size != size:
            return "corrupt"
    return "ok"


def read_marker_file(folder):
    """The converted-folder marker dict, or None if missing or unreadable."""
    try:
        with open(pathlib.Path(folder) / MARKER_NAME, encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _file_sizes(folder):
    sizes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            sizes[path.relative_to(folder).as_posix()] = path.stat().st_size
    return sizes


def _install(staging, folder, source_sha256, converter):
    """Moves `staging` to `folder` in one rename, replacing a bad copy."""
    if converted_status(folder, source_sha256, converter) == "ok":
        return  # Another process built the same folder meanwhile.
    trash = None
    if folder.exists():
        trash = pathlib.Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".old-{folder.name}-"))
        os.replace(folder, trash / "old")
    try:
        os.replace(staging, folder)
    except OSError:
        # Another process installed the same folder between check and now.
        if converted_status(folder, source_sha256, converter) != "ok":
            raise
    finally:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
