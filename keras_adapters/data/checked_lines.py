"""`CheckedLines`: the decoded lines of a binary stream, each checked before it is parsed."""

# Longest line (bytes of UTF-8, newline included). Python's csv module refuses
# fields beyond 131,072 characters by default; a line that long is no text a
# classifier reads whole, and usually means a file that is not line-based text.
MAX_LINE_BYTES = 131_072
# Leading bytes of files that are not text (first match wins).
_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "UTF-32 text (save it as UTF-8)"),
    (b"\x00\x00\xfe\xff", "UTF-32 text (save it as UTF-8)"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
    (b"\x1f\x8b", "a gzip-compressed file (name it *.gz to read it)"),
    *(
        (b"BZh%d1AY&SY" % level, "a bzip2-compressed file (name it *.bz2 to read it)")
        for level in range(1, 10)
    ),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"PK\x03\x04", "a ZIP archive (or .xlsx/.docx)"),
    (b"PK\x05\x06", "a ZIP archive (or .xlsx/.docx)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.xls/.doc)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x7fELF", "an executable"),
)


class CheckedLines:
    """The decoded lines of a binary stream, numbered, each checked before it is parsed.

    `check_start` refuses files whose first bytes say they are not UTF-8 text
    (UTF-16/32, archives, images...); iterating decodes line after line and
    refuses over-long lines, NUL bytes and invalid UTF-8 with a `ValueError`
    naming the file and the 1-based line. `number` is the last line read.

    Args:
        stream: a binary stream with `peek` and `readline` (an opened file).
        name: the file's name, for messages.
    """

    def __init__(self, stream, name):
        self.stream = stream
        self.name = name
        self.number = 0

    def check_start(self):
        head = self.stream.peek(64)[:64]
        if not head:
            raise ValueError(f"{self.name!r} is empty (no header, no rows).")
        for signature, what in _SIGNATURES:
            if head.startswith(signature):
                raise ValueError(
                    f"{self.name!r} is not a UTF-8 text file: it starts like {what}. "
                    f"Received: first bytes {head[:16]!r}"
                )

    def __iter__(self):
        while True:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.number += 1
            yield self._decode(raw)

    def _decode(self, raw):
        where = f"Line {self.number} of {self.name!r}"
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError(
                f"{where} is longer than {MAX_LINE_BYTES:,} bytes, the limit per line; "
                "is it a text file with one row per line?"
            )
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise ValueError(
                f"{where} holds a NUL byte at byte {nul + 1}: the file is binary or not UTF-8 "
                "(UTF-16?). Save it as UTF-8 text."
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{where} is not valid UTF-8: byte {error.start + 1} is "
                f"{raw[error.start]:#04x}. Save the file as UTF-8 (e.g. from Latin-1 or "
                "Windows-1252)."
            ) from None
        if self.number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        return text
