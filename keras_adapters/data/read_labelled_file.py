"""`read_labelled_file`: texts and raw labels from a CSV or JSONL file, checked line by line.

Every problem with a user's file is a `ValueError` naming the file, the line
(1-based) and what is wrong; nothing from inside `csv`, `json`, `gzip` or the
UTF-8 decoder escapes. docs/cli.md lists each case and what is done with it.
"""

import bz2
import collections
import csv
import dataclasses
import gzip
import json
import os
import re
import zlib

from keras_adapters.data.checked_lines import CheckedLines

FILE_SUFFIXES = (".csv", ".jsonl")
COMPRESSION_SUFFIXES = {"": open, ".gz": gzip.open, ".bz2": bz2.open}
# Integer labels are class ids; a classifier gets one output per id up to the
# largest, so an id like 10**12 (a user id in the label column) would allocate
# that many classes.
MAX_INTEGER_LABEL = 99_999
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


@dataclasses.dataclass(frozen=True)
class LabelledRows:
    """What `read_labelled_rows` returns.

    Attributes:
        texts: list of str, one per kept row.
        labels: list of int (all) or str (all), one per kept row.
        lines: list of int, the 1-based line where each kept row starts.
        num_rows: data rows read, kept or skipped (blank lines not counted).
        num_empty_rows: rows skipped because their text is empty or only
            whitespace.
    """

    texts: list
    labels: list
    lines: list
    num_rows: int
    num_empty_rows: int


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
    all be integers (class ids from 0 to `MAX_INTEGER_LABEL`) or all be
    strings, and none may be empty. Rows whose text is empty or only
    whitespace are skipped (`read_labelled_rows` counts them). Files ending
    in `.gz` or `.bz2` are decompressed; the text must be UTF-8, each line
    at most `MAX_LINE_BYTES` bytes. Anything else is a `ValueError` naming
    the file and the line.

    Args:
        path: str or `os.PathLike`. The file.
        text_column: str. The column (CSV) or key (JSONL) of the text.
        label_column: str. The column (CSV) or key (JSONL) of the label.

    Returns:
        A tuple `(texts, labels)` of two lists of equal length; labels are
        all int or all str.
    """
    rows = read_labelled_rows(path, text_column, label_column)
    return rows.texts, rows.labels


def read_labelled_rows(path, text_column, label_column):
    """Like `read_labelled_file`, with line numbers and skip counts: a `LabelledRows`."""
    fmt = file_format(path)
    name = os.fspath(path)
    if fmt is None:
        raise ValueError(
            f"Unknown file extension. Valid: {valid_suffixes()}. Received: source={name!r}"
        )
    kind, opener = fmt
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {name!r}. Received: source={name!r}")
    if not os.path.isfile(path):
        raise ValueError(
            f"{name!r} is not a regular file (a directory, device or pipe). Received: "
            f"source={name!r}"
        )
    try:
        stream = opener(path, "rb")
    except OSError as error:
        raise ValueError(f"Cannot open {name!r}: {error.strerror or error}") from None
    with stream:
        lines = CheckedLines(stream, name)
        try:
            lines.check_start()
            read = _read_csv if kind == "csv" else _read_jsonl
            rows, num_rows = read(lines, name, text_column, label_column)
        except (OSError, EOFError, zlib.error) as error:
            compression = "" if opener is open else f" as {opener.__module__}"
            raise ValueError(
                f"Cannot read {name!r}{compression} (while reading line {lines.number + 1}): "
                f"{error}"
            ) from None
    kept = [row for row in rows if row[1].strip()]
    if not kept:
        raise ValueError(
            f"{name!r} has {num_rows} data rows, and the text of every one is empty "
            f"(`text_column`={text_column!r}). Received: source={name!r}"
        )
    labels = _consistent_labels(kept, name, label_column)
    return LabelledRows(
        texts=[text for _, text, _ in kept],
        labels=labels,
        lines=[line for line, _, _ in kept],
        num_rows=num_rows,
        num_empty_rows=len(rows) - len(kept),
    )


def _csv_lines(lines):
    # A lone carriage return ends a line too (old Mac files), as in text mode.
    for line in lines:
        yield from (piece for piece in _LONE_CR.split(line) if piece)


def _read_csv(lines, name, text_column, label_column):
    reader = csv.reader(_csv_lines(lines))
    header, _ = _next_csv_row(reader, name)
    if header is None:
        raise ValueError(f"{name!r} holds only blank lines (no header, no rows).")
    columns = {}
    for arg, column in (("text_column", text_column), ("label_column", label_column)):
        positions = [i for i, field in enumerate(header) if field.strip() == column]
        if not positions:
            separated = any(";" in f or "\t" in f for f in header)
            hint = " (only commas separate columns; is the file separated by ';' or tabs?)"
            raise ValueError(
                f"`{arg}` is not a column of {name!r}. Columns found: {header}"
                f"{hint if separated else ''}. Received: {arg}={column!r}"
            )
        if len(positions) > 1:
            raise ValueError(
                f"The header (line 1) of {name!r} has the column {column!r} "
                f"{len(positions)} times (positions {[p + 1 for p in positions]}); which one "
                f"holds the data is ambiguous. Rename the others. Received: {arg}={column!r}"
            )
        columns[arg] = positions[0]
    text_at, label_at = columns["text_column"], columns["label_column"]
    needed = max(text_at, label_at) + 1
    rows, num_rows = [], 0
    while True:
        row, line = _next_csv_row(reader, name)
        if row is None:
            break
        num_rows += 1
        where = f"Line {line} of {name!r}"
        extra = [field for field in row[len(header) :] if field.strip()]
        if len(row) < needed or extra:
            count = f"{len(row)} field{'s' if len(row) != 1 else ''}"
            raise ValueError(
                f"{where} has {count}, {'more' if extra else 'fewer'} fields than the header "
                f"{header}. Quote texts that contain commas."
            )
        text = row[text_at]
        if not text.strip():
            rows.append((line, text, None))
            continue
        rows.append((line, text, _csv_label(row[label_at], where, label_column)))
    if not num_rows:
        raise ValueError(f"{name!r} has a header ({header}) but no data rows.")
    return rows, num_rows


def _next_csv_row(reader, name):
    """`(fields, first line)` of the next non-blank record, or `(None, None)` at the end."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return None, None
        except csv.Error as error:
            raise ValueError(f"Line {line} of {name!r} is not valid CSV: {error}") from None
        if any(field.strip() for field in row):
            return row, line


def _csv_label(value, where, label_column):
    label = value.strip()
    if _INTEGER.match(label):
        return _integer_label(label, where, label_column)
    return label


def _integer_label(label, where, label_column):
    text = str(label).lstrip("+-").lstrip("0") or "0"
    if len(text) > 9 or not 0 <= int(label) <= MAX_INTEGER_LABEL:
        shown = label if len(text) <= 20 else f"{str(label)[:20]}... ({len(text)} digits)"
        raise ValueError(
            f"{where} has the integer label {shown} in `label_column`={label_column!r}; "
            f"integer labels are class ids from 0 to {MAX_INTEGER_LABEL:,}. Use ids from 0, "
            "or label names (e.g. 'neg', 'pos')."
        )
    return int(label)


class _KeyCounts(dict):
    """A JSON object that remembers which keys occurred more than once."""

    repeated = ()


def _object_with_repeats(pairs):
    result = _KeyCounts(pairs)
    if len(result) != len(pairs):
        counts = collections.Counter(key for key, _ in pairs)
        result.repeated = tuple(key for key, count in counts.items() if count > 1)
    return result


def _read_jsonl(lines, name, text_column, label_column):
    rows, num_rows = [], 0
    for raw in lines:
        line = lines.number
        if not raw.strip():
            continue
        num_rows += 1
        where = f"Line {line} of {name!r}"
        try:
            row = json.loads(raw, object_pairs_hook=_object_with_repeats)
        except ValueError as error:
            raise ValueError(f"{where} is not valid JSON: {error}") from None
        except RecursionError:
            raise ValueError(f"{where} is JSON nested too deeply to read.") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where} must be a JSON object. Received: {raw.strip()[:80]!r}")
        for arg, column in (("text_column", text_column), ("label_column", label_column)):
            if column not in row:
                raise ValueError(
                    f"`{arg}` is not a key of line {line} of {name!r}. Keys found: "
                    f"{sorted(row)[:20]}. Received: {arg}={column!r}"
                )
            if column in row.repeated:
                raise ValueError(
                    f"{where} has the key {column!r} more than once; which value holds the "
                    f"data is ambiguous. Received: {arg}={column!r}"
                )
        text, label = row[text_column], row[label_column]
        if not isinstance(text, str):
            raise ValueError(
                f"The text on line {line} of {name!r} must be a JSON string. "
                f"Received: {text_column}={_short(text)}"
            )
        if not text.strip():
            rows.append((line, text, None))
            continue
        if isinstance(label, str):
            label = label.strip()
        elif isinstance(label, bool) or not isinstance(label, int):
            raise ValueError(
                f"The label on line {line} of {name!r} must be a JSON integer or string. "
                f"Received: {label_column}={_short(label)}"
            )
        else:
            label = _integer_label(label, where, label_column)
        for what, value in (("text", text), ("label", label)):
            if isinstance(value, str) and not _is_unicode(value):
                raise ValueError(
                    f"The {what} on line {line} of {name!r} holds an unpaired UTF-16 "
                    "surrogate escape (such as \\ud800), which is not text."
                )
        rows.append((line, text, label))
    if not num_rows:
        raise ValueError(f"{name!r} holds only blank lines (no JSON objects).")
    return rows, num_rows


def _is_unicode(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _consistent_labels(rows, name, label_column):
    for line, _, label in rows:
        if label == "":
            raise ValueError(
                f"Line {line} of {name!r} has an empty label in "
                f"`label_column`={label_column!r}. Every row with a text needs a label."
            )
    first_int = next((r for r in rows if isinstance(r[2], int)), None)
    first_str = next((r for r in rows if isinstance(r[2], str)), None)
    if first_int and first_str:
        raise ValueError(
            f"The labels in `label_column`={label_column!r} of {name!r} mix integers and "
            f"strings: line {first_int[0]} has {first_int[2]!r}, line {first_str[0]} has "
            f"{first_str[2]!r}. Use one kind of label throughout."
        )
    return [label for _, _, label in rows]
