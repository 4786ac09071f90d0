import json
import pathlib

import pytest

from keras_adapters.assets import cached_assets, fetch_asset, registry, resolve_cache_dir


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_ADAPTERS_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_precedence_argument_env_xdg_home(clean_env, tmp_path):
    home_default = tmp_path / "home" / ".cache" / "keras_adapters"
    assert resolve_cache_dir() == home_default
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == tmp_path / "xdg" / "keras_adapters"
    clean_env.setenv("KERAS_ADAPTERS_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_cache_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_empty_env_and_relative_xdg_are_ignored(clean_env, tmp_path):
    clean_env.setenv("KERAS_ADAPTERS_CACHE", "")
    clean_env.setenv("XDG_CACHE_HOME", "relative/dir")
    assert resolve_cache_dir() == (tmp_path / "home" / ".cache" / "keras_adapters")


def test_user_and_relative_paths_become_absolute(clean_env, tmp_path):
    assert resolve_cache_dir("~/c") == tmp_path / "home" / "c"
    assert resolve_cache_dir("rel").is_absolute()
    assert resolve_cache_dir("rel") == pathlib.Path.cwd() / "rel"


def test_resolve_does_not_create_the_folder(tmp_path):
    resolve_cache_dir(tmp_path / "not_yet")
    assert not (tmp_path / "not_yet").exists()


@pytest.mark.parametrize("bad", ["", 3, ["a"]])
def test_bad_cache_dir(bad):
    with pytest.raises(ValueError, match="Received: cache_dir="):
        resolve_cache_dir(bad)


def test_cached_assets_reports_status(monkeypatch, fake_wheel, make_fake_wheel, cache_dir):
    assert cached_assets(cache_dir) == []
    other = make_fake_wheel(name="other_asset")
    monkeypatch.setattr(
        registry,
        "_REGISTRY",
        {
            **registry._REGISTRY,
            "fake_asset": fake_wheel.record,
            "other_asset": other.record,
        },
    )
    ok_folder = fetch_asset("fake_asset", cache_dir, fake_wheel.downloader)
    bad_folder = fetch_asset("other_asset", cache_dir, other.downloader)
    (bad_folder / "weights.bin").write_bytes(b"truncated")
    stray = cache_dir / "assets" / "left_by_old_version"
    stray.mkdir()
    entries = {entry["name"]: entry for entry in cached_assets(cache_dir)}
    assert sorted(entries) == [
        "fake_asset",
        "left_by_old_version",
        "other_asset",
    ]
    assert entries["fake_asset"]["status"] == "ok"
    assert entries["fake_asset"]["path"] == str(ok_folder)
    assert entries["fake_asset"]["version"] == "1.0.0"
    assert entries["fake_asset"]["wheel_sha256"] == fake_wheel.sha256
    expected_size = (
        sum(len(fake_wheel.members[path]) for path in fake_wheel.wanted)
        + (ok_folder / ".keras_adapters_asset.json").stat().st_size
    )
    assert entries["fake_asset"]["size_bytes"] == expected_size
    assert entries["other_asset"]["status"] == "corrupt"
    assert entries["left_by_old_version"]["status"] == "unregistered"
    assert entries["left_by_old_version"]["package"] is None

    # A cached copy made from another pin is "stale".
    marker_path = ok_folder / ".keras_adapters_asset.json"
    marker = json.loads(marker_path.read_text())
    marker["version"] = "0.9.0"
    marker_path.write_text(json.dumps(marker))
    entries = {entry["name"]: entry for entry in cached_assets(cache_dir)}
    assert entries["fake_asset"]["status"] == "stale"
