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
    types = metadata.get(
        "tokenizer.ggml.token_type", [TOKEN_TYPE_NORMAL] * len(tokens)
    )
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
        "add_bos_token": bool(
            metadata.get("tokenizer.ggml.add_bos_token", False)
        ),
        "add_eos_token": bool(
            metadata.get("tokenizer.ggml.add_eos_token", False)
        ),
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
            f"{source} has no `{key}` metadata; the tokenizer cannot be "
            "rebuilt without it."
        )
    return metadata[key]
