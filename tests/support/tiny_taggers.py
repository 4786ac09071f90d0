"""Tiny token classifiers and CoNLL files for the NER tests."""

import keras
import keras_hub
import numpy as np

from keras_adapters.models import TokenClassifier, TokenClassifierPreprocessor
from tests.support.tiny_models import make_backbone

TAG_NAMES = ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
    "eu",
    "rejects",
    "german",
    "call",
    "to",
    "boycott",
    "british",
    "lamb",
    ".",
    ",",
    "peter",
    "black",
    "##burn",
    "brussels",
    "paris",
    "lives",
    "in",
    "the",
    "u",
    "s",
    "'",
    "new",
    "york",
    "said",
    "reuters",
    "##s",
    "(",
    ")",
    "zurich",
]
# Sentences in the CoNLL-2003 style, with their tags.
SENTENCES = [
    (
        ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
    ),
    (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    (["BRUSSELS", "1996-08-22"], ["B-LOC", "O"]),
    (["Peter", "lives", "in", "Paris", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
    (["New", "York", "said", "Reuters", "."], ["B-LOC", "I-LOC", "O", "B-ORG", "O"]),
]


def tokenizer():
    return keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)


def make_tagger(kind="bert", seed=0, sequence_length=16, with_preprocessor=True):
    """A tiny TokenClassifier; the head gets unit-scale weights so any change shows."""
    backbone = make_backbone(kind, seed, vocabulary_size=len(VOCAB))
    preprocessor = (
        TokenClassifierPreprocessor(tokenizer(), sequence_length=sequence_length)
        if with_preprocessor
        else None
    )
    tagger = TokenClassifier(backbone, tag_names=TAG_NAMES, preprocessor=preprocessor)
    head = tagger.get_layer("logits")
    rng = np.random.default_rng(seed)
    head.kernel.assign(rng.normal(size=head.kernel.shape).astype("float32"))
    head.bias.assign(rng.normal(size=head.bias.shape).astype("float32"))
    return tagger


def write_conll(path, sentences, docstart=True):
    """Writes sentences as CoNLL-2003 does: token POS chunk NER, blank line after each."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for words, tags in sentences:
        lines += [f"{word} NNP B-NP {tag}" for word, tag in zip(words, tags)]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_conll_folder(folder, train=None, valid=None, test=None):
    folder.mkdir(parents=True, exist_ok=True)
    write_conll(folder / "train.txt", train or SENTENCES * 4)
    write_conll(folder / "valid.txt", valid or SENTENCES[:3])
    write_conll(folder / "test.txt", test or SENTENCES[2:])
    return folder


def seeded():
    keras.utils.set_random_seed(0)
