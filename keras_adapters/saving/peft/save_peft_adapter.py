"""`save_peft_adapter`: a keras-adapters LoRA or DoRA adapter in Hugging Face PEFT's layout."""

import json
import math
import re

import keras_hub
import numpy as np
import safetensors.numpy

from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.trainability import modules_to_save_layers
from keras_adapters.methods.dora.plan_dora import dora_wrapper_class
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.saving.atomic_directory import atomic_directory
from keras_adapters.saving.peft.hf_modules import HfPart, hf_modules
from keras_adapters.saving.peft.module_names import matches_target, suffix_matches
from keras_adapters.saving.peft.peft_config import CONFIG_FILE, WEIGHTS_FILE
from keras_adapters.saving.peft.peft_keys import (
    KEY_PREFIX,
    LORA_A,
    LORA_B,
    MAGNITUDE,
    lora_key,
)
from keras_adapters.saving.peft.registry import get_peft_architecture

METHODS = ("lora", "dora")


def save_peft_adapter(model, path, adapter_name=None, base_model_name_or_path=None, overwrite=True):
    """Writes a LoRA (or DoRA) adapter as a Hugging Face PEFT adapter directory.

    `path` gets `adapter_config.json` (`peft_type` `LORA`, `r`, `lora_alpha`,
    `use_rslora`, `use_dora`, `lora_dropout`, `fan_in_fan_out`,
    `target_modules`, `layers_to_transform`, `modules_to_save`, `task_type`)
    and `adapter_model.safetensors` with PEFT's keys and shapes, so
    `PeftModel.from_pretrained` can put the adapter on the Hugging Face
    checkpoint KerasHub converts into this model (`BertForSequenceClassification`
    for a `BertTextClassifier`, `LlamaForCausalLM` for a `Llama3CausalLM`,
    `LlamaModel` for a bare backbone...). `load_peft_adapter` reads it back
    with identical outputs.

    GPT-2's `c_attn` is one fused module for the query, key and value
    layers. Their adapters share `lora_A` when they came from PEFT; adapters
    trained here have one `A` each, and are written exactly as one module of
    rank `k * r` (the `A`s stacked, `B` block-diagonal), with every other
    module zero-padded to that rank and `lora_alpha` scaled to keep the
    scale. A slot of the fused module without an adapter gets zero rows of
    `B` (DoRA: its weights' norms as magnitude).

    The directory is written aside and renamed into place, so it is never
    half-written; an existing directory is only replaced if it holds an
    `adapter_config.json`.

    Args:
        model: an adapted KerasHub model of an architecture with a
            `keras_adapters.saving.PeftArchitecture`.
        path: directory to write.
        adapter_name: which adapter; defaults to the single active one.
        base_model_name_or_path: the Hugging Face checkpoint the adapter
            belongs on, recorded in `adapter_config.json`.
        overwrite: replace an existing adapter directory.

    Example:
    ```python
    keras_adapters.save_peft_adapter(causal_lm, "smollm2-lora", "HuggingFaceTB/SmolLM2-135M")
    ```
    """
    state = require_state(model)
    name = _adapter_name(state, adapter_name)
    config = state.configs[name]
    if config.method not in METHODS:
        raise ValueError(
            f"PEFT's LoRA format holds LoRA and DoRA adapters; {name!r} is a {config.method!r} "
            f"adapter. Received: adapter_name={name!r}"
        )
    context = ModelContext(model)
    architecture = get_peft_architecture(context.backbone)
    model_prefix, task_type = _hf_model_kind(model, context, architecture)
    modules = hf_modules(context, architecture, model_prefix)
    dora = config.method == "dora"
    factors = _site_factors(context, name, modules, architecture, dora)
    stacked = {
        module_path: _module_factors(modules[module_path], parts, config.rank, dora)
        for module_path, parts in factors.items()
    }
    file_rank = max(a.shape[0] for a, _, _ in stacked.values())
    tensors = {}
    for module_path, (a, b, magnitude) in sorted(stacked.items()):
        pad = file_rank - a.shape[0]
        tensors[lora_key(module_path, LORA_A)] = np.pad(a, ((0, pad), (0, 0)))
        tensors[lora_key(module_path, LORA_B)] = np.pad(b, ((0, 0), (0, pad)))
        if magnitude is not None:
            tensors[lora_key(module_path, MAGNITUDE)] = magnitude
    saved_names = _saved_modules(model, config, architecture, model_prefix, tensors)
    target_modules, layers = _target_modules(
        architecture, modules, set(stacked), model_prefix, bool(model_prefix)
    )
    adapter_config = {
        "peft_type": "LORA",
        "task_type": task_type,
        "base_model_name_or_path": base_model_name_or_path,
        "revision": None,
        "inference_mode": True,
        "r": file_rank,
        "lora_alpha": _file_alpha(config, file_rank),
        "lora_dropout": config.dropout,
        "use_rslora": config.use_rslora,
        "use_dora": dora,
        "fan_in_fan_out": architecture.layout == "conv1d",
        "bias": "none",
        "target_modules": target_modules,
        "layers_to_transform": layers,
        "layers_pattern": None,
        "rank_pattern": {},
        "alpha_pattern": {},
        "modules_to_save": saved_names,
        "init_lora_weights": True,
    }
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    with atomic_directory(path, overwrite=overwrite, marker=CONFIG_FILE) as directory:
        safetensors.numpy.save_file(
            tensors, str(directory / WEIGHTS_FILE), metadata={"format": "pt"}
        )
        (directory / CONFIG_FILE).write_text(json.dumps(adapter_config, indent=2) + "\n")


def _site_factors(context, name, modules, architecture, dora):
    """`{module path: {slot: (A [r, in], B [out, r], magnitude or None)}}` of the adapter's sites."""
    by_layer = {part.layer.path: (m, part) for m in modules.values() for part in m.parts}
    factors = {}
    for wrapper in context.wrappers_of(name):
        if wrapper.location not in by_layer:
            raise ValueError(
                f"Adapter {name!r} has a site at {wrapper.location!r}, which is no "
                f"{architecture.name} projection PEFT knows ({list(architecture.modules)} in each "
                "block); it cannot be written in PEFT's format."
            )
        module, part = by_layer[wrapper.location]
        weights = wrapper.get_adapter(name)
        a, b = HfPart.hf_factors(_numpy(weights.lora_a), _numpy(weights.lora_b))
        magnitude = _numpy(weights.magnitude).reshape(-1) if dora else None
        factors.setdefault(module.path, {})[part.slot] = (a, b, magnitude)
    if not factors:
        raise ValueError(f"Adapter {name!r} has no sites on this model.")
    return factors


def _file_alpha(config, file_rank):
    """`lora_alpha` giving the adapter's scale at rank `file_rank` (the rank, if unchanged)."""
    alpha = config.rank if config.alpha is None else config.alpha
    if file_rank != config.rank:  # every module was zero-padded or stacked to `file_rank`
        root = math.sqrt if config.use_rslora else float
        alpha = alpha * root(file_rank) / root(config.rank)
    return int(alpha) if float(alpha).is_integer() else alpha


def _adapter_name(state, adapter_name):
    if adapter_name is None:
        if len(state.active) != 1:
            raise ValueError(
                f"Pass `adapter_name`: the model has {len(state.active)} active adapters "
                f"({list(state.active)}); adapters: {list(state.configs)}."
            )
        return state.active[0]
    if adapter_name not in state.configs:
        raise ValueError(
            f"`adapter_name` must be one of {list(state.configs)}. "
            f"Received: adapter_name={adapter_name!r}"
        )
    return adapter_name


def _hf_model_kind(model, context, architecture):
    """`(model prefix, PEFT task_type)` of the Hugging Face class matching `model`."""
    if model is context.backbone:
        return "", "FEATURE_EXTRACTION"
    if isinstance(model, keras_hub.models.CausalLM):
        return architecture.model_prefix, "CAUSAL_LM"
    if isinstance(model, keras_hub.models.TextClassifier):
        return architecture.model_prefix, "SEQ_CLS"
    return architecture.model_prefix, None


def _module_factors(module, parts, rank, dora):
    """`(A [k r, in], B [out, k r], magnitude)` of one module from its slots' factors.

    Slots sharing one `A` (loaded from PEFT) keep rank `r`; otherwise the
    `A`s stack and `B` is block-diagonal. Missing slots get zero rows of `B`.
    """
    present = [p for p in module.parts if p.slot in parts]
    a_list = [parts[p.slot][0] for p in present]
    shared = all(np.array_equal(a_list[0], a) for a in a_list[1:])
    blocks = 1 if shared else len(present)
    a = a_list[0] if shared else np.concatenate(a_list, axis=0)
    b = np.zeros((module.out_features, blocks * rank), np.float32)
    magnitude = np.zeros((module.out_features,), np.float32) if dora else None
    for part in module.parts:
        if part.slot not in parts:
            if dora:  # `m = ||W||` and `B = 0`: the identity, as a new DoRA adapter starts
                norms = dora_wrapper_class(part.layer).column_norms_for(part.layer)
                magnitude[part.rows] = np.asarray(norms).reshape(-1)
            continue
        column = 0 if shared else present.index(part) * rank
        b[part.rows, column : column + rank] = parts[part.slot][1]
        if dora:
            magnitude[part.rows] = parts[part.slot][2]
    return a, b, magnitude


def _saved_modules(model, config, architecture, model_prefix, tensors):
    """Adds the `modules_to_save` weights to `tensors`; returns PEFT's `modules_to_save`."""
    layers = modules_to_save_layers(model, config.modules_to_save)
    if not layers:
        return None
    table = architecture.saved_module_paths(model_prefix, task=bool(model_prefix))
    names = []
    for layer in layers:
        records = {m: r for m, r in table.items() if r.layer == layer.path}
        covered = set()
        for module, record in records.items():
            for parameter, weight_name in record.weights.items():
                variable = next(
                    (v for v in layer.weights if v.path == f"{layer.path}/{weight_name}"), None
                )
                if variable is None:
                    continue
                value = _numpy(variable)
                tensors[f"{KEY_PREFIX}{module}.{parameter}"] = (
                    value.T if parameter in record.transposed else value
                )
                covered.add(variable.path)
                names.append(record.peft_name or module)
        unmapped = [v.path for v in layer.weights if v.path not in covered]
        if unmapped:
            raise ValueError(
                f"`modules_to_save` includes the layer {layer.path!r}, whose weights {unmapped} "
                f"have no Hugging Face counterpart in this {architecture.name} model's PEFT "
                f"layout. Mapped layers: {sorted({r.layer for r in table.values()})}."
            )
    return list(dict.fromkeys(names))


def _target_modules(architecture, modules, selected, model_prefix, task):
    """`(target_modules, layers_to_transform)` that make PEFT select exactly `selected`.

    A list of short names (plus `layers_to_transform` when not every block
    is adapted) where PEFT's matching rules give exactly these modules,
    else a regex naming them.
    """
    outside = list(architecture.saved_module_paths(model_prefix, task))
    universe = list(modules) + outside
    names = sorted({modules[p].name for p in selected}, key=list(architecture.modules).index)
    indices = sorted({modules[p].index for p in selected})
    all_blocks = len(indices) == len({m.index for m in modules.values()})
    rectangular = len(selected) == len(names) * len(indices)
    if rectangular:
        short = list(
            dict.fromkeys(_shortest_suffix(n, set(names), architecture, outside) for n in names)
        )
        layers = None if all_blocks else indices
        if {p for p in universe if matches_target(p, short, layers)} == selected:
            return short, layers
        block = re.escape(f"{model_prefix}{architecture.blocks}.")
        index = r"\d+" if all_blocks else "(?:" + "|".join(map(str, indices)) + ")"
        pattern = f"{block}{index}\\.(?:{'|'.join(map(re.escape, names))})"
    else:
        pattern = "|".join(re.escape(p) for p in sorted(selected))
    if {p for p in universe if re.fullmatch(pattern, p)} != selected:
        raise RuntimeError(
            f"The target_modules regex {pattern!r} selects other modules; please report this."
        )
    return pattern, None


def _shortest_suffix(name, wanted, architecture, outside):
    """The shortest dotted suffix of `name` that matches no module outside `wanted`."""
    parts = name.split(".")
    others = [m for m in architecture.modules if m not in wanted] + outside
    for n in range(1, len(parts) + 1):
        suffix = ".".join(parts[-n:])
        if not any(suffix_matches(other, suffix) for other in others):
            return suffix
    return name


def _numpy(variable):
    return np.asarray(variable.numpy(), dtype=np.float32)
