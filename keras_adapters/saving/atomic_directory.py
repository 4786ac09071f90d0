"""Writing a directory so that it is either complete or not there at all."""

import contextlib
import os
import pathlib
import shutil
import tempfile
import uuid


def check_replaceable(path, overwrite=True, marker=None, argument="path"):
    """Raises `FileExistsError` unless `atomic_directory(path, ...)` may write `path`.

    An empty directory is always fine; a non-empty one needs `overwrite` and,
    if `marker` is given, must contain that file (so only our own output is
    ever replaced).
    """
    path = pathlib.Path(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    if not path.is_dir() or (marker and not (path / marker).exists()):
        raise FileExistsError(
            f"`{argument}` exists and is not a directory written by keras-adapters (no {marker}); "
            f"refusing to replace it. Received: {argument}={str(path)!r}"
        )
    if not overwrite:
        raise FileExistsError(
            f"`{argument}` already holds a previous result; choose another directory or pass "
            f"overwrite to replace it. Received: {argument}={str(path)!r}"
        )


@contextlib.contextmanager
def atomic_directory(path, overwrite=True, marker=None):
    """Yields a temporary directory that replaces `path` only if the block succeeds.

    The temporary directory is a sibling of `path` (same filesystem), so the
    final step is a rename. An existing `path` is moved aside first and
    removed only after the new one is in place; if the process dies in
    between, the old copy is still on disk under `.<name>.old-*`.

    Args:
        path: the directory to produce.
        overwrite: replace an existing `path`; if `False`, an existing path is
            an error (raised before anything is written).
        marker: a file name that an existing `path` must contain to be
            replaced (protects directories that are not ours); `None` skips
            the check.
    """
    path = pathlib.Path(path)
    check_replaceable(path, overwrite, marker)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield temporary
        for item in temporary.rglob("*"):
            if item.is_file():
                with open(item, "rb") as handle:
                    os.fsync(handle.fileno())
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if path.exists():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(path, old)
        os.rename(temporary, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(temporary, path)
