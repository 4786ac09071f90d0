"""`read_labelled_file`: texts and raw labels from a CSV or JSONL file."""

import bz2
import csv
import gzip
import json
import os
import re

FILE_SUFFIXES = (".csv", ".jsonl")
COMPRESSION_SUFFIXES = {"": open, ".gz": gzip.open, ".bz2": bz2.open}
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def file_format(path):
    """`("csv" | "jsonl", opener)` for a path, or None if unsupported."""
    name = os.fspath(path).lower()
    for compression, opener in COMPRESSION_SUFFIXES.items():
        for suffix in FILE_SUFFIXES:
            if name.endswith(suffix + compression):
                return suffix[1:], opener
    return None


def valid_suffixes():
    """All file name endings `read_labelled_file` accepts."""
    return [
        suffix + compression for suffix in FILE_SUFFIXES for compression in COMPRESSION_SUFFIXES
    ]


def read_labelled_file(path, text_column, label_column):
    """Reads `(texts, labels)` from a `.csv` or `.jsonl` file.

    CSV files need a header row; every value is a string, and a label
    column whose values all look like integers is read as integers. JSONL
    files hold one JSON object per line (blank lines are skipped); labels
    must be JSON integers or strings. Either way the labels of one file must
    all be integers or all be strings, and none may be empty. Files ending
    in `.gz` or `.bz2` are decompressed.

    Args:
        path: str or `os.PathLike`. The file.
        text_column: str. The column (CSV) or key (JSONL) of the text.
        label_column: str. The column (CSV) or key (JSONL) of the label.

    Returns:
        A tuple `(texts, labels)` of two lists of equal length; labels are
        all int or all str.
    """
    fmt = file_format(path)
    if fmt is None:
        raise ValueError(
            f"Unknown file extension. Valid: {valid_suffixes()}. "
            f"Received: source={os.fspath(path)!r}"
        )
    kind, opener = fmt
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No such file: {os.fspath(path)!r}. Received: source={os.fspath(path)!r}"
        )
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        if kind == "csv":
            rows = _read_csv(f, path, text_column, label_column)
        else:
            rows = _read_jsonl(f, path, text_column, label_column)
    texts = [text for _, text, _ in rows]
    labels = _consistent_labels(rows, path, label_column)
    return texts, labels


def _read_csv(f, path, text_column, label_column):
    reader = csv.DictReader(f)
    columns = reader.fieldnames or []
    for arg, column in (
        ("text_column", text_column),
        ("label_column", label_column),
    ):
        if column not in columns:
            raise ValueError(
                f"`{arg}` is not a column of {os.fspath(path)!r}. Columns "
                f"found: {columns}. Received: {arg}={column!r}"
            )
    rows = []
    for row in reader:
        line = reader.line_num
        text, label = row.get(text_column), row.get(label_column)
        if text is None or label is None:
            raise ValueError(
                f"Line {line} of {os.fspath(path)!r} has fewer fields than the header {columns}."
            )
        label = label.strip()
        if _INTEGER.match(label):
            label = int(label)
        rows.append((line, text, label))
    return rows


def _read_jsonl(f, path, text_column, label_column):
    rows = []
    for line, raw in enumerate(f, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as error:
            raise ValueError(
                f"Line {line} of {os.fspath(path)!r} is not valid JSON: {error}"
            ) from error
        if not isinstance(row, dict):
            raise ValueError(
                f"Line {line} of {os.fspath(path)!r} must be a JSON object. "
                f"Received: {raw.strip()[:80]!r}"
            )
        for arg, column in (
            ("text_column", text_column),
            ("label_column", label_column),
        ):
            if column not in row:
                raise ValueError(
                    f"`{arg}` is not a key of line {line} of "
                    f"{os.fspath(path)!r}. Keys found: {sorted(row)}. "
                    f"Received: {arg}={column!r}"
                )
        text, label = row[text_column], row[label_column]
        if not isinstance(text, str):
            raise ValueError(
                f"The text on line {line} of {os.fspath(path)!r} must be a "
                f"JSON string. Received: {text_column}={text!r}"
            )
        if isinstance(label, str):
            label = label.strip()
        elif isinstance(label, bool) or not isinstance(label, int):
            raise ValueError(
                f"The label on line {line} of {os.fspath(path)!r} must be a "
                f"JSON integer or string. Received: {label_column}={label!r}"
            )
        rows.append((line, text, label))
    return rows


def _consistent_labels(rows, path, label_column):
    for line, _, label in rows:
        if label == "":
            raise ValueError(
                f"Line {line} of {os.fspath(path)!r} has an empty label in "
                f"`label_column`={label_column!r}. Every row needs a label."
            )
    first_int = next((r for r in rows if isinstance(r[2], int)), None)
    first_str = next((r for r in rows if isinstance(r[2], str)), None)
    if first_int and first_str:
        raise ValueError(
            f"The labels in `label_column`={label_column!r} of "
            f"{os.fspath(path)!r} mix integers and strings: line "
            f"{first_int[0]} has {first_int[2]!r}, line {first_str[0]} has "
            f"{first_str[2]!r}. Use one kind of label throughout."
        )
    return [label for _, _, label in rows]
