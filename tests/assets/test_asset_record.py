import dataclasses

import pytest

from keras_adapters.assets import AssetRecord

VALID = dict(
    name="my_asset",
    package="some-package",
    version="1.2.0",
    wheel_sha256="ab" * 32,
    files=(
        "some_package/data/model/config.json",
        "some_package/data/model/vocab.txt",
    ),
    description="An asset.",
    license="MIT",
)


def make(**changes):
    return AssetRecord(**{**VALID, **changes})


def test_valid_record_properties():
    record = make(files=["pkg/model/config.json", "pkg/model/sub/w.bin"])
    assert record.files == ("pkg/model/config.json", "pkg/model/sub/w.bin")
    assert record.requirement == "some-package==1.2.0"
    assert record.root == "pkg/model"
    assert record.relative_files == ("config.json", "sub/w.bin")
    assert hash(record) == hash(make(files=("pkg/model/config.json", "pkg/model/sub/w.bin")))


def test_single_file_and_top_level_roots():
    assert make(files=("a/b/c.csv.bz2",)).relative_files == ("c.csv.bz2",)
    top = make(files=("top.txt", "pkg/inner.txt"))
    assert top.root == ""
    assert top.relative_files == ("top.txt", "pkg/inner.txt")


def test_record_is_frozen():
    record = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.version = "2.0"


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", ""),
        ("name", "Has Space"),
        ("name", "UPPER"),
        ("name", 3),
        ("package", "bad package"),
        ("package", "-leading"),
        ("version", ">=1.0"),
        ("version", "1.0, <2"),
        ("version", ""),
        ("wheel_sha256", "AB" * 32),
        ("wheel_sha256", "ab" * 31),
        ("wheel_sha256", "zz" * 32),
        ("description", " "),
        ("license", ""),
        ("license", None),
    ],
)
def test_invalid_scalar_fields(field, value):
    with pytest.raises(ValueError, match=f"`{field}`.*Received: {field}="):
        make(**{field: value})


@pytest.mark.parametrize(
    "files",
    [
        (),
        "pkg/one.txt",
        ("/abs/path.txt",),
        ("pkg/../escape.txt",),
        ("pkg/./x.txt",),
        ("pkg\\win.txt",),
        ("pkg/dir/",),
        ("",),
        (3,),
        ("pkg/a.txt", "pkg/a.txt"),
        None,
    ],
)
def test_invalid_files(files):
    with pytest.raises(ValueError, match="files"):
        make(files=files)
