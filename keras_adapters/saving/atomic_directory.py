"""Writing a directory so that it is either complete or not there at all."""

import contextlib
import ctypes
import errno
import os
import pathlib
import shutil
import sys
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
    final step is a rename. An existing `path` is swapped with the new one in
    one atomic step (`exchange_paths`, Linux), so a process killed at any
    moment leaves `path` either the old complete directory or the new one
    (and at most a `.<name>.tmp-*` sibling to delete). Where the system cannot
    swap, the old directory is moved aside first and removed only after the
    new one is in place; if the process dies in between, the old copy is
    still on disk under `.<name>.old-*`.

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
    _fsync_directory(temporary)
    if path.exists():
        if exchange_paths(temporary, path):  # `temporary` now holds the old directory
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
            os.rename(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(temporary, path)
    _fsync_directory(path.parent)


def exchange_paths(first, second):
    """Swaps two directories in one atomic step; `False` where the system cannot.

    Linux's `renameat2(..., RENAME_EXCHANGE)` (glibc 2.28+, most local
    filesystems): at every instant `second` is either the old or the new
    directory, even if the process is killed. Elsewhere the caller falls back
    to two renames, which leave a moment with `second` absent.
    """
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # not supported here (filesystem or kernel): fall back
    raise OSError(error, os.strerror(error), os.fspath(second))


def _fsync_directory(path):
    """Makes a rename inside `path` durable (no-op where directories cannot be opened)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _load_renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_RENAMEAT2 = _load_renameat2() if sys.platform.startswith("linux") else None
