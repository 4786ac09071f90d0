"""Reading a PEFT `adapter_config.json`: what keras-adapters can load, refused clearly otherwise."""

import dataclasses
import json
import math
import numbers
import pathlib
import warnings

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PICKLE_WEIGHTS_FILE = "adapter_model.bin"

# Fields that do not change what the saved tensors compute (initialisation,
# bookkeeping), or that `PeftLoraSettings` reads.
IGNORED_FIELDS = frozenset(
    {
        "auto_mapping",
        "corda_config",
        "ensure_weight_tying",
        "eva_config",
        "inference_mode",
        "init_lora_weights",
        "loftq_config",
        "lora_ga_config",
        "megatron_core",
        "peft_version",
        "qalora_group_size",
        "revision",
        "runtime_config",
    }
)
# Features that change the computation and that keras-adapters does not
# implement: each must be absent, null, false or empty.
UNSUPPORTED_FIELDS = {
    "alora_invocation_tokens": "activated LoRA (aLoRA)",
    "arrow_config": "Arrow routing",
    "layer_replication": "layer replication",
    "lora_bias": "a bias on lora_B",
    "megatron_config": "Megatron parallel layers",
    "target_parameters": "LoRA on parameters (MoE experts)",
    "trainable_token_indices": "trainable tokens",
    "use_qalora": "QA-LoRA",
    "rank_pattern": "a rank per module (one rank per adapter here)",
    "alpha_pattern": "an alpha per module (one alpha per adapter here)",
}


@dataclasses.dataclass(frozen=True)
class PeftLoraSettings:
    """The fields of a PEFT LoRA config that decide which tensors there are and what they compute."""

    r: int
    lora_alpha: float
    lora_dropout: float = 0.0
    use_rslora: bool = False
    use_dora: bool = False
    fan_in_fan_out: bool = False
    target_modules: object = None
    exclude_modules: object = None
    layers_to_transform: object = None
    layers_pattern: object = None
    modules_to_save: tuple = None
    task_type: str = None
    base_model_name_or_path: str = None

    @property
    def scale(self):
        """PEFT's `scaling`: `lora_alpha / r`, or `lora_alpha / sqrt(r)` with rsLoRA."""
        return self.lora_alpha / (math.sqrt(self.r) if self.use_rslora else self.r)


def read_peft_config(path):
    """Reads and checks `<path>/adapter_config.json`; nothing is executed or unpickled.

    Returns:
        A `PeftLoraSettings`.
    """
    path = pathlib.Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"`path` must be a PEFT adapter directory holding {CONFIG_FILE} and {WEIGHTS_FILE}. "
            f"Received: path={str(path)!r}"
        )
    if not (path / WEIGHTS_FILE).is_file():
        if (path / PICKLE_WEIGHTS_FILE).is_file():
            raise ValueError(
                f"{path} holds {PICKLE_WEIGHTS_FILE}, a pickle file, which is never read (loading "
                f"it can run code). Save the adapter with safetensors (PEFT's default, "
                f"`save_pretrained(..., safe_serialization=True)`) to get {WEIGHTS_FILE}."
            )
        raise FileNotFoundError(
            f"`path` must hold {WEIGHTS_FILE} next to {CONFIG_FILE}. Received: path={str(path)!r}"
        )
    try:
        raw = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{config_path} must hold a JSON object. Received: {type(raw).__name__}")
    return parse_peft_config(raw, str(config_path))


def parse_peft_config(raw, source=CONFIG_FILE):
    """Checks a PEFT config dict; see `read_peft_config`."""
    peft_type = raw.get("peft_type")
    if peft_type != "LORA":
        raise ValueError(
            f"{source}: only LoRA adapters (peft_type 'LORA', with use_dora for DoRA) can be "
            f"loaded. Received: peft_type={peft_type!r}"
        )
    for field, feature in UNSUPPORTED_FIELDS.items():
        if raw.get(field):
            raise ValueError(
                f"{source}: `{field}` asks for {feature}, which keras-adapters does not support; "
                f"it must be null, false or empty. Received: {field}={raw[field]!r}"
            )
    if raw.get("bias", "none") != "none":
        raise ValueError(
            f"{source}: `bias` must be 'none' (trained base biases are not part of a keras-adapters "
            f"LoRA adapter). Received: bias={raw['bias']!r}"
        )
    r = raw.get("r")
    if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
        raise ValueError(f"{source}: `r` must be a positive integer. Received: r={r!r}")
    alpha = raw.get("lora_alpha", 8)
    if not _number(alpha) or alpha <= 0:
        raise ValueError(
            f"{source}: `lora_alpha` must be a positive number. Received: lora_alpha={alpha!r}"
        )
    dropout = raw.get("lora_dropout", 0.0)
    if not _number(dropout) or not 0 <= dropout < 1:
        raise ValueError(
            f"{source}: `lora_dropout` must be a number in [0, 1). Received: lora_dropout={dropout!r}"
        )
    flags = {}
    for field in ("use_rslora", "use_dora", "fan_in_fan_out"):
        value = raw.get(field, False)
        if not isinstance(value, bool):
            raise ValueError(
                f"{source}: `{field}` must be true or false. Received: {field}={value!r}"
            )
        flags[field] = value
    target_modules = _names(source, "target_modules", raw.get("target_modules"))
    exclude_modules = _names(source, "exclude_modules", raw.get("exclude_modules"))
    layers = raw.get("layers_to_transform")
    if layers is not None and not (
        _index(layers) or (isinstance(layers, list) and all(_index(i) for i in layers))
    ):
        raise ValueError(
            f"{source}: `layers_to_transform` must be a layer index, a list of them, or null. "
            f"Received: layers_to_transform={layers!r}"
        )
    if isinstance(target_modules, str) and layers not in (None, []):
        raise ValueError(
            f"{source}: `layers_to_transform` cannot be used when `target_modules` is a regex "
            f"string (PEFT refuses it too). Received: target_modules={target_modules!r}, "
            f"layers_to_transform={layers!r}"
        )
    layers_pattern = _names(source, "layers_pattern", raw.get("layers_pattern"))
    modules_to_save = raw.get("modules_to_save")
    if modules_to_save is not None and not (
        isinstance(modules_to_save, list) and all(isinstance(m, str) for m in modules_to_save)
    ):
        raise ValueError(
            f"{source}: `modules_to_save` must be a list of module names or null. "
            f"Received: modules_to_save={modules_to_save!r}"
        )
    for field in ("task_type", "base_model_name_or_path"):
        if raw.get(field) is not None and not isinstance(raw[field], str):
            raise ValueError(
                f"{source}: `{field}` must be a string or null. Received: {field}={raw[field]!r}"
            )
    known = set(IGNORED_FIELDS) | set(UNSUPPORTED_FIELDS) | {"peft_type", "bias", "lora_alpha"}
    known |= {f.name for f in dataclasses.fields(PeftLoraSettings)}
    unknown = sorted(k for k, v in raw.items() if k not in known and v not in (None, False, [], {}))
    if unknown:
        warnings.warn(
            f"{source}: ignoring fields keras-adapters does not know: {unknown}.", stacklevel=4
        )
    return PeftLoraSettings(
        r=r,
        lora_alpha=float(alpha),
        lora_dropout=float(dropout),
        target_modules=target_modules,
        exclude_modules=exclude_modules,
        layers_to_transform=layers,
        layers_pattern=layers_pattern,
        modules_to_save=None if modules_to_save is None else tuple(modules_to_save),
        task_type=raw.get("task_type"),
        base_model_name_or_path=raw.get("base_model_name_or_path"),
        **flags,
    )


def _names(source, field, value):
    """A regex string, a tuple of names, or `None`."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(
        f"{source}: `{field}` must be a regex string, a list of module names, or null. "
        f"Received: {field}={value!r}"
    )


def _number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _index(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
