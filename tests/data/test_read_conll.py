"""`read_conll`: the CoNLL-2003 layout, written here byte for byte, and its errors."""

import pytest

from keras_adapters.data import read_conll
from tests.support.tiny_taggers import SENTENCES, write_conll

CONLL = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP B-NP B-LOC\n"
    "1996-08-22 CD I-NP O\n"
    "\n"
)


def _write(tmp_path, text, name="data.txt", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_sentences_and_tags_skipping_document_starts(tmp_path):
    sentences, tags = read_conll(_write(tmp_path, CONLL))
    assert sentences == [
        ["EU", "rejects", "German"],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
    ]
    assert tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC", "O"]]


@pytest.mark.parametrize(
    "variant",
    [
        lambda text: text.replace("\n", "\r\n"),  # Windows line ends
        lambda text: text.replace(" ", "\t"),  # tab-separated columns
        lambda text: text.rstrip("\n"),  # no blank line (nor newline) after the last sentence
        lambda text: text.replace("\n\n", "\n\n\n"),  # repeated blank lines
        lambda text: "\ufeff" + text,  # a byte order mark
        lambda text: text.replace("-DOCSTART- -X- -X- O\n\n", "-DOCSTART- -X- -X- O\n"),
    ],
    ids=["crlf", "tabs", "no-final-blank", "blank-runs", "bom", "docstart-without-blank"],
)
def test_layout_variants_read_the_same(tmp_path, variant):
    expected = read_conll(_write(tmp_path, CONLL, "plain.txt"))
    assert read_conll(_write(tmp_path, variant(CONLL))) == expected


def test_a_document_start_ends_a_sentence(tmp_path):
    text = "EU NNP B-NP B-ORG\n-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n"
    assert read_conll(_write(tmp_path, text)) == ([["EU"], ["Peter"]], [["B-ORG"], ["B-PER"]])


def test_columns_can_be_chosen(tmp_path):
    sentences, tags = read_conll(_write(tmp_path, CONLL), token_column=1, tag_column=2)
    assert sentences[0] == ["NNP", "VBZ", "JJ"] and tags[0] == ["B-NP", "B-VP", "B-NP"]


def test_two_column_files_and_the_fixture_writer_round_trip(tmp_path):
    path = write_conll(tmp_path / "x.txt", SENTENCES)
    assert read_conll(path) == ([w for w, _ in SENTENCES], [t for _, t in SENTENCES])
    two = _write(tmp_path, "Paris B-LOC\nis O\n\nRome B-LOC\n", "two.txt")
    assert read_conll(two) == ([["Paris", "is"], ["Rome"]], [["B-LOC", "O"], ["B-LOC"]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("EU NNP B-NP B-ORG\nrejects\n", "Line 2 of"),
        ("EU NNP B-NP B-ORG\nrejects VBZ O\n", "Line 2 of"),
        ("EU NNP B-NP B-ORG\nrejects VBZ B-VP X-PER\n", "'X-PER'"),
        ("EU NNP B-NP B_ORG\n", "'B_ORG'"),
        ("EU NNP B-NP B-\n", "'B-'"),
        ("EU NNP B-NP o\n", "'o'"),
        ("-DOCSTART- -X- -X- O\n\n\n", "holds no sentence"),
        ("", "holds no sentence"),
    ],
    ids=[
        "one-column",
        "fewer-columns",
        "bad-prefix",
        "underscore",
        "empty-type",
        "lowercase-o",
        "only-docstart",
        "empty",
    ],
)
def test_malformed_files_name_the_line(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        read_conll(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_inconsistent_columns_name_both_lines(tmp_path):
    path = _write(tmp_path, "EU NNP B-NP B-ORG\n\nPeter NNP B-PER\n")
    with pytest.raises(ValueError, match="Line 3 .* has 3 columns, but line 1 has 4"):
        read_conll(path)


def test_not_utf8(tmp_path):
    path = _write(tmp_path, "Zürich NNP B-NP B-LOC\n", encoding="latin-1")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_conll(path)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_conll(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="Received: tag_column='3'"):
        read_conll(_write(tmp_path, CONLL), tag_column="3")
