"""Broken or hostile data files: one clear `ValueError` naming the file and the line, or a counted skip."""

import re

import numpy as np
import pytest

from keras_adapters.data import deduplicated_split, load_text_classification
from keras_adapters.data.checked_lines import MAX_LINE_BYTES
from keras_adapters.data.read_labelled_file import read_labelled_rows
from tests.support.bad_data_files import BAD_FILES


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_one_clear_error(case, tmp_path):
    name, content, pattern = BAD_FILES[case]
    path = _write(tmp_path, name, content)
    with pytest.raises(ValueError) as info:
        load_text_classification(str(path))
    message = str(info.value)
    assert re.search(pattern, message), message
    assert str(path) in message
    assert "\n" not in message and info.value.__cause__ is None


def test_line_limit_is_inclusive(tmp_path):
    text = "x" * (MAX_LINE_BYTES - len(",pos\n"))
    path = _write(tmp_path, "a.csv", f"text,label\n{text},pos\nshort,neg\n".encode())
    assert read_labelled_rows(path, "text", "label").texts == [text, "short"]


def test_directory_named_like_a_file(tmp_path):
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(ValueError, match="is not a regular file"):
        load_text_classification(str(tmp_path / "data.csv"))


def _rows(count):
    return "".join(
        f"Review {i} says the film is {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}\n"
        for i in range(count)
    )


def test_empty_texts_are_skipped_and_counted(tmp_path):
    # An empty text skips the row whatever its label; a row of blank fields is a blank line.
    body = _rows(60) + ",pos\n   ,neg\n , \n\n"
    path = _write(tmp_path, "a.csv", ("text,label\n" + body).encode())
    rows = read_labelled_rows(path, "text", "label")
    assert (rows.num_rows, rows.num_empty_rows, len(rows.texts)) == (62, 2, 60)
    assert rows.lines[:2] == [2, 3]
    data = load_text_classification(str(path))
    assert "62 rows read" in data.notes[0] and "2 empty" in data.notes[0]
    assert data.label_names == ("neg", "pos")


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    path = _write(tmp_path, "a.csv", b"text,label\n\nGood,pos\n\nBad,\n")
    with pytest.raises(ValueError, match="Line 5 of .* empty label"):
        read_labelled_rows(path, "text", "label")
    path = _write(
        tmp_path, "b.jsonl", b'\n{"text": "a", "label": 1}\n\n{"text": "b", "label": -2}\n'
    )
    with pytest.raises(ValueError, match="Line 4 of .*integer label -2"):
        read_labelled_rows(path, "text", "label")


def test_multi_line_record_is_reported_at_its_first_line(tmp_path):
    path = _write(tmp_path, "a.csv", b'text,label\nGood,pos\n"two\nlines",neg,extra\n')
    with pytest.raises(ValueError, match="Line 3 of .* 3 fields"):
        read_labelled_rows(path, "text", "label")


def test_old_mac_line_endings_and_byte_order_mark(tmp_path):
    path = _write(tmp_path, "a.csv", b"\xef\xbb\xbftext,label\rGood,pos\rBad,neg\r")
    rows = read_labelled_rows(path, "text", "label")
    assert rows.texts == ["Good", "Bad"] and rows.lines == [2, 3]


def _text_outside_train(prefix, seed=1337):
    """A text that the seeded split puts in validation or test."""
    for i in range(1000):
        text = f"{prefix} {i}"
        if not deduplicated_split([text], [0], 0.1, 0.1, seed).train.texts:
            return text
    raise AssertionError("no such text")


def test_label_only_outside_train_names_label_and_lines(tmp_path):
    rare = _text_outside_train("A rare review")
    path = _write(tmp_path, "a.csv", f"text,label\n{_rows(60)}{rare},meh\n".encode())
    with pytest.raises(ValueError) as info:
        load_text_classification(str(path))
    message = str(info.value)
    assert "The labels 'meh' (line 62) have no example in the train split" in message
    assert str(path) in message and "\n" not in message


def test_single_label_is_refused(tmp_path):
    body = "".join(f"Review number {i},pos\n" for i in range(40))
    path = _write(tmp_path, "a.csv", f"text,label\n{body}".encode())
    with pytest.raises(ValueError, match="Every kept text has the label 'pos'; a classifier needs"):
        load_text_classification(str(path))


def test_a_good_file_still_loads(tmp_path):
    path = _write(tmp_path, "a.csv", f"text,label\n{_rows(80)}".encode())
    data = load_text_classification(str(path))
    assert sum(len(data.split(s)) for s in ("train", "validation", "test")) == 80
    assert set(np.unique(data.train.labels)) == {0, 1}
