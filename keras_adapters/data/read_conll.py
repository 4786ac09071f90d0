"""`read_conll`: sentences and BIO tags from a CoNLL-format file."""

import os
import re

DOCUMENT_START = "-DOCSTART-"
# "O", or "B-"/"I-" and a non-empty entity type.
_TAG = re.compile(r"^(O|[BI]-\S+)$")


def check_tag(tag):
    """Whether `tag` is a BIO tag: `"O"`, `"B-TYPE"` or `"I-TYPE"`."""
    return isinstance(tag, str) and bool(_TAG.match(tag))


def read_conll(path, *, token_column=0, tag_column=-1):
    r"""Reads sentences and their BIO tags from a CoNLL-format file.

    The format of the CoNLL-2002/2003 shared tasks: one token per line, its
    columns separated by spaces or tabs (e.g. `token POS chunk NER`), a
    blank line after each sentence, and `-DOCSTART-` lines between
    documents (skipped; they end a sentence too). Every token line must have
    as many columns as the first one, and every tag must be `O`, `B-TYPE` or
    `I-TYPE` (IOB1 and IOB2 both read; no tag scheme is converted).

    Args:
        path: str or `os.PathLike`. A UTF-8 text file.
        token_column: int. The column of the token. Defaults to `0`.
        tag_column: int. The column of the tag; negative counts from the
            end. Defaults to `-1`, the last.

    Returns:
        A tuple `(sentences, tags)`: two lists of equal length, each entry a
        list of str, one per token.

    Raises:
        FileNotFoundError: `path` is not a file.
        ValueError: a line has too few or a different number of columns, a
            tag is not BIO, the file is not UTF-8 or holds no sentence. The
            message names the file, the line number and the line.

    Example:
    ```python
    with open("tiny.txt", "w") as f:
        f.write("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n")
    sentences, tags = keras_adapters.data.read_conll("tiny.txt")
    sentences, tags  # ([["EU", "rejects"]], [["B-ORG", "O"]])
    ```
    """
    for name, value in (("token_column", token_column), ("tag_column", tag_column)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"`{name}` must be an int. Received: {name}={value!r}")
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(f"No such file: {where!r}. Received: path={where!r}")
    needed = max(token_column if token_column >= 0 else -token_column - 1, 0)
    needed = max(needed, tag_column if tag_column >= 0 else -tag_column - 1) + 1
    sentences, tags = [], []
    words, labels = [], []
    columns = None  # the column count of the first token line, and where it was
    with open(where, encoding="utf-8-sig") as f:
        number = 0
        try:
            for number, line in enumerate(f, start=1):
                fields = line.split()
                if not fields or fields[0] == DOCUMENT_START:
                    if words:
                        sentences.append(words)
                        tags.append(labels)
                    words, labels = [], []
                    continue
                if len(fields) < max(needed, 2):
                    raise ValueError(
                        f"Line {number} of {where!r} has {len(fields)} column(s); a token line "
                        f"needs at least {max(needed, 2)} (token_column={token_column}, "
                        f"tag_column={tag_column}). Received: {line.rstrip()!r}"
                    )
                if columns is None:
                    columns = (len(fields), number)
                elif len(fields) != columns[0]:
                    raise ValueError(
                        f"Line {number} of {where!r} has {len(fields)} columns, but line "
                        f"{columns[1]} has {columns[0]}: every token line needs the same columns. "
                        f"Received: {line.rstrip()!r}"
                    )
                tag = fields[tag_column]
                if not check_tag(tag):
                    raise ValueError(
                        f"Line {number} of {where!r} has the tag {tag!r} in column {tag_column}; "
                        "tags must be 'O', 'B-TYPE' or 'I-TYPE'. "
                        f"Received: {line.rstrip()!r}"
                    )
                words.append(fields[token_column])
                labels.append(tag)
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{where!r} is not UTF-8 text (after line {number}): {error}"
            ) from None
    if words:
        sentences.append(words)
        tags.append(labels)
    if not sentences:
        raise ValueError(f"{where!r} holds no sentence (no token lines). Received: path={where!r}")
    return sentences, tags
