import bz2
import gzip

import pytest

from keras_adapters.data.read_labelled_file import read_labelled_file


def test_csv_with_string_and_integer_labels(write_csv):
    path = write_csv(
        "a.csv",
        ["id", "text", "label"],
        [
            [1, "Good, really good", "pos"],
            [2, 'A "quoted"\nmulti-line text', "neg"],
        ],
    )
    assert read_labelled_file(path, "text", "label") == (
        ["Good, really good", 'A "quoted"\nmulti-line text'],
        ["pos", "neg"],
    )
    path = write_csv("b.csv", ["review", "stars"], [["x", "3"], ["y", " 0 "]])
    assert read_labelled_file(path, "review", "stars") == (["x", "y"], [3, 0])


def test_jsonl_with_blank_lines(write_jsonl):
    path = write_jsonl(
        "a.jsonl",
        [
            {"text": "one", "label": 1, "extra": None},
            "",
            {"text": "two", "label": 0},
        ],
    )
    assert read_labelled_file(path, "text", "label") == (["one", "two"], [1, 0])


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_files(tmp_path, suffix, opener):
    path = tmp_path / f"data.csv{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write("text,label\nhello,a\nworld,b\n")
    assert read_labelled_file(path, "text", "label") == (
        ["hello", "world"],
        ["a", "b"],
    )
    path = tmp_path / f"DATA.JSONL{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write('{"text": "x", "label": 2}\n')
    assert read_labelled_file(path, "text", "label") == (["x"], [2])


def test_csv_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\nhi,1\n".encode("utf-8"))
    assert read_labelled_file(path, "text", "label") == (["hi"], [1])


def test_missing_csv_column_lists_columns(write_csv):
    path = write_csv("a.csv", ["sentence", "label"], [["x", "1"]])
    with pytest.raises(ValueError) as info:
        read_labelled_file(path, "text", "label")
    message = str(info.value)
    assert "Columns found: ['sentence', 'label']" in message
    assert "Received: text_column='text'" in message
    with pytest.raises(ValueError, match="Received: label_column='y'"):
        read_labelled_file(path, "sentence", "y")


def test_missing_jsonl_key_lists_keys(write_jsonl):
    path = write_jsonl("a.jsonl", [{"text": "a", "label": 1}, {"text": "b", "stars": 2}])
    with pytest.raises(ValueError) as info:
        read_labelled_file(path, "text", "label")
    message = str(info.value)
    assert "line 2" in message and "Keys found: ['stars', 'text']" in message
    assert "Received: label_column='label'" in message


@pytest.mark.parametrize(
    "rows, match",
    [
        ([["a", "1"], ["b", "pos"]], "mix integers and strings"),
        ([["a", "pos"], ["b", ""]], "Line 3 .* empty label"),
        ([["a", "pos"], ["b", "   "]], "empty label"),
    ],
)
def test_inconsistent_csv_labels(write_csv, rows, match):
    path = write_csv("a.csv", ["text", "label"], rows)
    with pytest.raises(ValueError, match=match):
        read_labelled_file(path, "text", "label")


def test_short_csv_row(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("text,label\nonly text\n")
    with pytest.raises(ValueError, match="Line 2 .*1 field, fewer fields than the header"):
        read_labelled_file(path, "text", "label")


@pytest.mark.parametrize(
    "rows, match",
    [
        (
            [{"text": "a", "label": 1}, {"text": "b", "label": "1"}],
            "mix integers and strings",
        ),
        ([{"text": "a", "label": 1.0}], "integer or string"),
        ([{"text": "a", "label": True}], "integer or string"),
        ([{"text": "a", "label": None}], "integer or string"),
        ([{"text": "a", "label": ""}], "empty label"),
        ([{"text": 5, "label": 1}], "text on line 1"),
        (["[1, 2]"], "JSON object"),
        (["{not json"], "not valid JSON"),
    ],
)
def test_bad_jsonl(write_jsonl, rows, match):
    path = write_jsonl("bad.jsonl", rows)
    with pytest.raises(ValueError, match=match):
        read_labelled_file(path, "text", "label")


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(ValueError) as info:
        read_labelled_file(tmp_path / "data.txt", "text", "label")
    assert "'.csv'" in str(info.value) and "'.jsonl'" in str(info.value)
    assert "Received: source=" in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_labelled_file(tmp_path / "nope.csv", "text", "label")
