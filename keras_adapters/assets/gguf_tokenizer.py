"""Tokenizers stored in GGUF metadata, rewritten as Hugging Face files.

GGUF keeps the vocabulary under `tokenizer.ggml.*`: `tokens` (one string
per id), `token_type` (llama.cpp's enum, below), `merges` for byte-level
BPE, `scores` for SentencePiece, and the ids of the special tokens.
"""

# llama.cpp's `llama_token_type`.
TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_UNKNOWN = 2
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4
TOKEN_TYPE_UNUSED = 5
TOKEN_TYPE_BYTE = 6

_SPECIAL_IDS = ("bos", "eos", "unknown", "padding")


def gguf_token_list(metadata, source):
    """Returns `(tokens, token_types)` from GGUF metadata, checked."""
    tokens = _required(metadata, "tokenizer.ggml.tokens", source)
    types = metadata.get("tokenizer.ggml.token_type", [TOKEN_TYPE_NORMAL] * len(tokens))
    if not isinstance(tokens, list) or not tokens:
        raise ValueError(
            f"`tokenizer.ggml.tokens` in {source} must be a non-empty list "
            f"of strings. Received: {type(tokens).__name__}"
        )
    if len(types) != len(tokens):
        raise ValueError(
            f"`tokenizer.ggml.token_type` in {source} must have one entry "
            f"per token ({len(tokens)}). Received: {len(types)} entries"
        )
    return list(tokens), [int(t) for t in types]


def special_token_ids(metadata, num_tokens, source):
    """`{"bos": id, ...}` for the special ids present in the metadata."""
    ids = {}
    for role in _SPECIAL_IDS:
        key = f"tokenizer.ggml.{role}_token_id"
        if key in metadata:
            value = int(metadata[key])
            if not 0 <= value < num_tokens:
                raise ValueError(
                    f"`{key}` in {source} must be a token id in "
                    f"[0, {num_tokens}). Received: {key}={value}"
                )
            ids[role] = value
    return ids


def bpe_tokenizer_files(metadata, source, model_max_length):
    """Hugging Face `tokenizer.json` and `tokenizer_config.json` contents.

    Only byte-level BPE tokenizers (`tokenizer.ggml.model == "gpt2"`, the
    GPT-2 / Llama 3 / SmolLM family) are supported. Control and
    user-defined tokens (`token_type` 3 and 4) become `added_tokens`;
    control tokens are marked special.

    Args:
        metadata: dict. GGUF metadata, see `keras_adapters.assets.read_gguf`.
        source: str. The file the metadata came from, for error messages.
        model_max_length: int. The context length to record.

    Returns:
        A tuple of two dicts: `tokenizer.json` and `tokenizer_config.json`.
    """
    model = metadata.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise ValueError(
            f"Only byte-level BPE tokenizers can be converted from {source}: "
            "`tokenizer.ggml.model` must be 'gpt2'. "
            f"Received: tokenizer.ggml.model={model!r}"
        )
    tokens, types = gguf_token_list(metadata, source)
    vocab = {}
    for index, token in enumerate(tokens):
        if token in vocab:
            raise ValueError(
                f"`tokenizer.ggml.tokens` in {source} repeats the token "
                f"{token!r} (ids {vocab[token]} and {index})."
            )
        vocab[token] = index
    merges = _required(metadata, "tokenizer.ggml.merges", source)
    for merge in merges:
        if not isinstance(merge, str) or len(merge.split(" ")) != 2:
            raise ValueError(
                f"Each of `tokenizer.ggml.merges` in {source} must be two "
                f"tokens separated by one space. Received: {merge!r}"
            )
    ids = special_token_ids(metadata, len(tokens), source)
    for role in ("bos", "eos"):
        if role not in ids:
            raise ValueError(
                f"{source} has no `tokenizer.ggml.{role}_token_id`; a causal "
                "LM needs both a start and an end token."
            )
    added = [
        {
            "id": index,
            "content": tokens[index],
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": types[index] == TOKEN_TYPE_CONTROL,
        }
        for index in range(len(tokens))
        if types[index] in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED)
    ]
    tokenizer_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": list(merges),
        },
    }
    tokenizer_config = {
        "tokenizer_class": "GPT2Tokenizer",
        "bos_token": tokens[ids["bos"]],
        "eos_token": tokens[ids["eos"]],
        "add_bos_token": bool(metadata.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(metadata.get("tokenizer.ggml.add_eos_token", False)),
        "clean_up_tokenization_spaces": False,
        "model_max_length": int(model_max_length),
    }
    for role, key in (("unknown", "unk_token"), ("padding", "pad_token")):
        if role in ids:
            tokenizer_config[key] = tokens[ids[role]]
    template = metadata.get("tokenizer.chat_template")
    if template is not None:
        tokenizer_config["chat_template"] = template
    return tokenizer_json, tokenizer_config


def _required(metadata, key, source):
    if key not in metadata:
        raise ValueError(
            f"{source} has no `{key}` metadata; the tokenizer cannot be rebuilt without it."
        )
    return metadata[key]


def sentencepiece_proto_from_gguf(metadata, source):
    """A serialized SentencePiece `ModelProto` rebuilt from GGUF metadata.

    For llama.cpp's SentencePiece tokenizers (`tokenizer.ggml.model ==
    "llama"`, e.g. Gemma): every token becomes a piece with its score and
    type (llama.cpp numbers token types as SentencePiece does), the model
    type is BPE (llama.cpp merges the pair whose result scores highest, as
    SentencePiece's BPE does), byte fallback is on when the vocabulary has
    byte pieces, and the normalizer only escapes spaces as `▁` (plus a
    leading one when `tokenizer.ggml.add_space_prefix` is true). The
    unknown token becomes SentencePiece's single `UNKNOWN` piece.

    Args:
        metadata: dict. GGUF metadata, see `keras_adapters.assets.read_gguf`.
        source: str. The file the metadata came from, for error messages.

    Returns:
        bytes, for `keras_hub.models.Gemma3Tokenizer(proto=...)` or
        `sentencepiece.SentencePieceProcessor(model_proto=...)`.
    """
    from sentencepiece import sentencepiece_model_pb2

    model = metadata.get("tokenizer.ggml.model")
    if model != "llama":
        raise ValueError(
            f"Only SentencePiece tokenizers can be rebuilt from {source}: "
            "`tokenizer.ggml.model` must be 'llama'. "
            f"Received: tokenizer.ggml.model={model!r}"
        )
    tokens, types = gguf_token_list(metadata, source)
    scores = _required(metadata, "tokenizer.ggml.scores", source)
    if len(scores) != len(tokens):
        raise ValueError(
            f"`tokenizer.ggml.scores` in {source} must have one entry per "
            f"token ({len(tokens)}). Received: {len(scores)} entries"
        )
    bad = sorted({t for t in types if not 1 <= t <= 6})
    if bad:
        raise ValueError(
            f"`tokenizer.ggml.token_type` in {source} must hold types 1-6. Received: {bad}"
        )
    ids = special_token_ids(metadata, len(tokens), source)
    if "unknown" not in ids:
        raise ValueError(
            f"{source} has no `tokenizer.ggml.unknown_token_id`, which a SentencePiece model needs."
        )
    proto = sentencepiece_model_pb2.ModelProto()
    for token, score, kind in zip(tokens, scores, types):
        piece = proto.pieces.add()
        piece.piece = token
        piece.score = float(score)
        piece.type = kind
    proto.pieces[ids["unknown"]].type = TOKEN_TYPE_UNKNOWN
    trainer = proto.trainer_spec
    trainer.model_type = sentencepiece_model_pb2.TrainerSpec.BPE
    trainer.vocab_size = len(tokens)
    trainer.byte_fallback = TOKEN_TYPE_BYTE in types
    for role, field in (
        ("unknown", "unk"),
        ("bos", "bos"),
        ("eos", "eos"),
        ("padding", "pad"),
    ):
        token_id = ids.get(role, -1)
        setattr(trainer, f"{field}_id", token_id)
        if token_id >= 0:
            setattr(trainer, f"{field}_piece", tokens[token_id])
    normalizer = proto.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    return proto.SerializeToString()
