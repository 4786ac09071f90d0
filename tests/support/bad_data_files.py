"""Broken CSV/JSONL files, each with the error it must give (for tests/data and tests/cli).

`BAD_FILES` maps a case id to `(file name, content bytes, regex the message must
match)`. Every message must also name the file; the regexes name the line where
there is one.
"""

import bz2
import gzip
import io
import json
import zipfile

_ROWS = b"text,label\nGood film,pos\nBad film,neg\n"


def _zip_bytes():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("reviews.csv", _ROWS)
    return buffer.getvalue()


def _jsonl(*rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


_OK = {"text": "Good film", "label": "pos"}

BAD_FILES = {
    "empty": ("data.csv", b"", r"is empty \(no header, no rows\)"),
    "empty_jsonl": ("data.jsonl", b"", r"is empty"),
    "only_blank_lines": ("data.csv", b"\n  \n\n", r"holds only blank lines"),
    "only_blank_jsonl": ("data.jsonl", b"\n \n", r"holds only blank lines"),
    "header_only": ("data.csv", b"text,label\n", r"has a header \(\['text', 'label'\]\) but no"),
    "missing_column": (
        "data.csv",
        b"review,label\nGood,pos\n",
        r"`text_column` is not a column of .*Columns found: \['review', 'label'\]",
    ),
    "semicolons": ("data.csv", b"text;label\nGood;pos\n", r"separated by ';' or tabs"),
    "missing_key": (
        "data.jsonl",
        _jsonl(_OK, {"text": "x", "stars": 2}),
        r"`label_column` is not a key of line 2 of .*Keys found: \['stars', 'text'\]",
    ),
    "all_texts_empty": ("data.csv", b"text,label\n,pos\n   ,neg\n", r"every one is empty"),
    "empty_label": ("data.csv", b"text,label\nGood,pos\nBad,\n", r"Line 3 of .* empty label"),
    "mixed_labels": (
        "data.csv",
        b"text,label\nGood,1\nBad,neg\n",
        r"mix integers and strings: line 2 has 1, line 3 has 'neg'",
    ),
    "mixed_labels_jsonl": (
        "data.jsonl",
        _jsonl({"text": "a", "label": 1}, {"text": "b", "label": "1"}),
        r"mix integers and strings: line 1 has 1, line 2 has '1'",
    ),
    "float_label_jsonl": (
        "data.jsonl",
        _jsonl(_OK, {"text": "b", "label": 0.5}),
        r"label on line 2 of .* must be a JSON integer or string. Received: label=0.5",
    ),
    "negative_label": ("data.csv", b"text,label\nGood,1\nBad,-1\n", r"Line 3 .*integer label -1"),
    "huge_label": (
        "data.csv",
        b"text,label\nGood,1\nBad," + b"9" * 5000 + b"\n",
        r"Line 3 .*integer label 9{20}\.\.\. \(5000 digits\).*from 0 to 99,999",
    ),
    "huge_label_jsonl": (
        "data.jsonl",
        _jsonl({"text": "a", "label": 10**12}),
        r"Line 1 .*integer label 1000000000000",
    ),
    "latin1": (
        "data.csv",
        b"text,label\nGood,pos\nCaf\xe9 cr\xe8me,neg\n",
        r"Line 3 of .* is not valid UTF-8: byte 4 is 0xe9",
    ),
    "latin1_jsonl": (
        "data.jsonl",
        _jsonl(_OK) + b'{"text": "Caf\xe9", "label": "neg"}\n',
        r"Line 2 of .* is not valid UTF-8",
    ),
    "utf16": ("data.csv", "text,label\nGood,pos\n".encode("utf-16"), r"starts like UTF-16 text"),
    "nul_byte": ("data.csv", b"text,label\nGo\x00od,pos\n", r"Line 2 of .* holds a NUL byte"),
    "huge_line": (
        "data.csv",
        b"text,label\nGood,pos\n" + b"x" * 200_000 + b",neg\n",
        r"Line 3 of .* is longer than 131,072 bytes",
    ),
    "huge_jsonl_line": (
        "data.jsonl",
        _jsonl(_OK, {"text": "x" * 200_000, "label": "neg"}),
        r"Line 2 of .* is longer than 131,072 bytes",
    ),
    "huge_multiline_field": (
        "data.csv",
        b'text,label\n"' + b"long line\n" * 20_000 + b'",pos\n',
        r"Line 2 of .* is not valid CSV: field larger than field limit",
    ),
    "gzip_named_csv": ("data.csv", gzip.compress(_ROWS), r"starts like a gzip-compressed file"),
    "bzip2_named_csv": ("data.csv", bz2.compress(_ROWS), r"starts like a bzip2-compressed file"),
    "png_named_csv": (
        "data.csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        r"is not a UTF-8 text file: it starts like a PNG image",
    ),
    "zip_named_jsonl": ("data.jsonl", _zip_bytes(), r"starts like a ZIP archive"),
    "random_binary": ("data.csv", bytes(range(128, 256)) * 4, r"Line 1 of .* is not valid UTF-8"),
    "not_gzip": ("data.csv.gz", _ROWS, r"Cannot read .* as gzip \(while reading line 1\)"),
    "truncated_gzip": (
        "data.csv.gz",
        gzip.compress(_ROWS * 50)[:-30],
        r"Cannot read .* as gzip \(while reading line \d+\)",
    ),
    "not_bzip2": ("data.jsonl.bz2", _jsonl(_OK), r"Cannot read .* as bz2"),
    "gzip_of_png": (
        "data.csv.gz",
        gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(64)),
        r"starts like a PNG image",
    ),
    "not_an_object": ("data.jsonl", _jsonl(_OK, "[1, 2]"), r"Line 2 of .* must be a JSON object"),
    "a_string_line": ("data.jsonl", _jsonl(_OK, '"text"'), r"Line 2 of .* must be a JSON object"),
    "invalid_json": ("data.jsonl", _jsonl(_OK, "{not json"), r"Line 2 of .* is not valid JSON"),
    "deep_json": ("data.jsonl", b"[" * 100_000 + b"\n", r"Line 1 of .* nested too deeply"),
    "lone_surrogate": (
        "data.jsonl",
        b'{"text": "bad \\ud800 text", "label": "pos"}\n',
        r"text on line 1 of .* unpaired UTF-16 surrogate",
    ),
    "text_not_string": (
        "data.jsonl",
        _jsonl({"text": ["a"], "label": "pos"}),
        r"text on line 1 of .* must be a JSON string. Received: text=\['a'\]",
    ),
    "duplicate_column": (
        "data.csv",
        b"text,label,text\nGood,pos,Bad\n",
        r"header \(line 1\) of .* has the column 'text' 2 times \(positions \[1, 3\]\)",
    ),
    "duplicate_key": (
        "data.jsonl",
        b'{"text": "a", "label": "pos", "label": "neg"}\n',
        r"Line 1 of .* has the key 'label' more than once",
    ),
    "short_row": ("data.csv", b"text,label\nGood,pos\nonly text\n", r"Line 3 of .* fewer fields"),
    "unquoted_comma": (
        "data.csv",
        b"text,label\nGood, really good,pos\n",
        r"Line 2 of .* has 3 fields, more fields than the header.*Quote texts",
    ),
}
