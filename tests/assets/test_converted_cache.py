import json

import pytest

from keras_adapters.assets.converted_cache import MARKER_NAME, converted_folder, converted_status

SHA = "a" * 64


class Builder:
    """Writes two files; counts calls; can fail half-way."""

    def __init__(self, fail=False, fill=b"w"):
        self.calls = 0
        self.fail = fail
        self.fill = fill

    def __call__(self, staging):
        self.calls += 1
        (staging / "weights.bin").write_bytes(self.fill * 1000)
        if self.fail:
            raise RuntimeError("conversion failed half-way")
        (staging / "sub").mkdir()
        (staging / "sub" / "config.json").write_text("{}")


def leftovers(cache_dir):
    parent = cache_dir / "converted"
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_builds_once_then_reuses(tmp_path):
    build = Builder()
    folder = converted_folder("model", SHA, "conv/1", build, tmp_path)
    assert folder == tmp_path / "converted" / "model"
    marker = json.loads((folder / MARKER_NAME).read_text())
    assert marker == {
        "format": 1,
        "name": "model",
        "source_sha256": SHA,
        "converter": "conv/1",
        "files": {"sub/config.json": 2, "weights.bin": 1000},
    }
    mtime = (folder / "weights.bin").stat().st_mtime_ns
    assert converted_folder("model", SHA, "conv/1", build, tmp_path) == folder
    assert build.calls == 1
    assert (folder / "weights.bin").stat().st_mtime_ns == mtime
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "change, status",
    [
        ("truncate", "corrupt"),
        ("delete_file", "corrupt"),
        ("delete_marker", "corrupt"),
        ("garbage_marker", "corrupt"),
        ("other_source", "stale"),
        ("other_converter", "stale"),
    ],
)
def test_damaged_or_stale_folder_is_rebuilt(tmp_path, change, status):
    build = Builder()
    folder = converted_folder("model", SHA, "conv/1", build, tmp_path)
    sha, converter = SHA, "conv/1"
    if change == "truncate":
        (folder / "weights.bin").write_bytes(b"short")
    elif change == "delete_file":
        (folder / "sub" / "config.json").unlink()
    elif change == "delete_marker":
        (folder / MARKER_NAME).unlink()
    elif change == "garbage_marker":
        (folder / MARKER_NAME).write_text("{not json")
    elif change == "other_source":
        sha = "b" * 64
    else:
        converter = "conv/2"
    assert converted_status(folder, sha, converter) == status
    converted_folder("model", sha, converter, build, tmp_path)
    assert build.calls == 2
    assert converted_status(folder, sha, converter) == "ok"
    assert leftovers(tmp_path) == []


def test_failed_build_leaves_no_folder_and_no_temporary_files(tmp_path):
    with pytest.raises(RuntimeError, match="half-way"):
        converted_folder("model", SHA, "conv/1", Builder(fail=True), tmp_path)
    assert list((tmp_path / "converted").iterdir()) == []


def test_failed_rebuild_keeps_the_previous_copy(tmp_path):
    folder = converted_folder("model", SHA, "conv/1", Builder(), tmp_path)
    with pytest.raises(RuntimeError):
        converted_folder("model", SHA, "conv/2", Builder(True), tmp_path)
    assert converted_status(folder, SHA, "conv/1") == "ok"
    assert leftovers(tmp_path) == []


def test_concurrent_build_keeps_the_first_copy(tmp_path):
    first = Builder()

    def racing_build(staging):
        # Another process finishes the same folder while this one builds.
        converted_folder("model", SHA, "conv/1", first, tmp_path)
        Builder(fill=b"x")(staging)

    folder = converted_folder("model", SHA, "conv/1", racing_build, tmp_path)
    assert first.calls == 1
    assert (folder / "weights.bin").read_bytes() == b"w" * 1000
    assert converted_status(folder, SHA, "conv/1") == "ok"
    assert leftovers(tmp_path) == []


def test_cache_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="a file is in the way"):
        converted_folder("model", SHA, "conv/1", Builder(), blocker)
