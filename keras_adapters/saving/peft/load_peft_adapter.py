"""`load_peft_adapter`: a Hugging Face PEFT LoRA directory into a KerasHub model."""

import pathlib
import re
import warnings

import numpy as np

from keras_adapters.injection.adapter_plan import plan_adapter
from keras_adapters.injection.add_adapter import insert_planned
from keras_adapters.methods.dora.dora_config import DoraConfig
from keras_adapters.methods.lora.lora_config import LoraConfig
from keras_adapters.planning.model_context import ModelContext
from keras_adapters.saving.peft.base_model_name import check_base_model_name
from keras_adapters.saving.peft.hf_modules import hf_modules
from keras_adapters.saving.peft.module_names import (
    covers_module,
    is_excluded,
    matches_target,
    suffix_matches,
)
from keras_adapters.saving.peft.peft_config import CONFIG_FILE, WEIGHTS_FILE, read_peft_config
from keras_adapters.saving.peft.peft_keys import (
    KEY_PREFIX,
    LORA_A,
    LORA_B,
    MAGNITUDE,
    SEQ_CLS_HEADS,
    find_layer,
    find_weight,
    lora_key,
    parse_key,
)
from keras_adapters.saving.peft.read_safetensors import read_safetensors
from keras_adapters.saving.peft.registry import get_peft_architecture

DEFAULT_ADAPTER_NAME = "default"
ALL_LINEAR = "all-linear"


def load_peft_adapter(model, path, adapter_name=None, activate=True):
    """Adds the Hugging Face PEFT LoRA adapter in `path` to a KerasHub model.

    `path` is what PEFT's `save_pretrained` writes: `adapter_config.json`
    and `adapter_model.safetensors`, keyed like
    `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`
    (`[r, in]`) and `...lora_B.weight` (`[out, r]`). Each module becomes a
    keras-adapters LoRA site on the layer KerasHub loads that module into,
    so the model computes PEFT's `W + scale * B @ A` (`scale = lora_alpha / r`,
    or `lora_alpha / sqrt(r)` with `use_rslora`); with `use_dora` it becomes
    a `keras_adapters.DoraConfig` adapter with PEFT's magnitudes. `r`,
    `lora_alpha`, `use_rslora`, `lora_dropout`, `target_modules` (names or a
    regex), `exclude_modules`, `layers_to_transform`, `layers_pattern` and
    `modules_to_save` (e.g. the classifier head, into the Keras layer that
    plays its part) are honoured; `fan_in_fan_out` is corrected with a
    warning when it contradicts the architecture, as PEFT does.

    Everything is checked before the model changes: the architecture (the
    backbone class, `base_model_name_or_path`, the module names), the PEFT
    features used, every tensor's presence and shape. Only JSON and
    safetensors are read; a pickled `adapter_model.bin` is refused.

    Args:
        model: a KerasHub backbone or task model (BERT, RoBERTa, DistilBERT,
            Llama, Llama 3, Mistral, Qwen, Gemma, GPT-2; see
            `keras_adapters.saving.peft_architectures()`).
        path: the PEFT adapter directory.
        adapter_name: name on this model; defaults to PEFT's `"default"`.
        activate: make it the active adapter.

    Returns:
        The adapter name used.

    Example:
    ```python
    causal_lm = keras_hub.models.Llama3CausalLM.from_preset("hf://HuggingFaceTB/SmolLM2-135M")
    keras_adapters.load_peft_adapter(causal_lm, "smollm2-lora")
    ```
    """
    name = DEFAULT_ADAPTER_NAME if adapter_name is None else adapter_name
    path = pathlib.Path(path)
    source = str(path / CONFIG_FILE)
    settings = read_peft_config(path)
    context = ModelContext(model)
    architecture = get_peft_architecture(context.backbone)
    check_base_model_name(settings.base_model_name_or_path, architecture, source)
    _check_fan_in_fan_out(settings, architecture, source)
    tensors = read_safetensors(path / WEIGHTS_FILE)
    model_prefix = _model_prefix(tensors, architecture, path)
    modules = hf_modules(context, architecture, model_prefix)
    targeted = _targeted_modules(settings, modules, architecture, model_prefix, source)
    saved = _saved_weights(model, settings, architecture, model_prefix, tensors, source)
    expected = _expected_shapes(settings, targeted, saved)
    _check_tensors(path, expected, {k: tuple(v.shape) for k, v in tensors.items()}, architecture)

    plan = plan_adapter(model, _keras_config(settings, targeted, context, saved), name, activate)
    _fill_planned_modules(plan, targeted, tensors, settings.use_dora)
    insert_planned(plan, activate)
    for key, (variable, transposed, _) in saved.items():
        value = tensors[key].T if transposed else tensors[key]
        variable.assign(np.ascontiguousarray(value).astype(variable.dtype))
    return name


def _expected_shapes(settings, targeted, saved):
    """`{file key: shape}` of every tensor the file must hold, and only those."""
    expected = {}
    for module in targeted:
        expected[lora_key(module.path, LORA_A)] = (settings.r, module.in_features)
        expected[lora_key(module.path, LORA_B)] = (module.out_features, settings.r)
        if settings.use_dora:
            expected[lora_key(module.path, MAGNITUDE)] = (module.out_features,)
    for key, (variable, transposed, _) in saved.items():
        shape = tuple(variable.shape)
        expected[key] = shape[::-1] if transposed else shape
    return expected


def _fill_planned_modules(plan, targeted, tensors, dora):
    """Assigns each planned `LoraWeights` (`DoraWeights`) its share of the PEFT tensors."""
    parts = {part.layer.path: (module, part) for module in targeted for part in module.parts}
    planned = {site.location for site, _ in plan.insertions}
    if planned != set(parts):
        raise RuntimeError(
            f"The adapter plan covers {sorted(planned)}, not the PEFT modules' layers "
            f"{sorted(parts)}; please report this."
        )
    for site, weights in plan.insertions:
        module, part = parts[site.location]
        lora_a, lora_b = part.keras_factors(
            tensors[lora_key(module.path, LORA_A)], tensors[lora_key(module.path, LORA_B)]
        )
        weights.lora_a.assign(lora_a)
        weights.lora_b.assign(lora_b)
        if dora:
            weights.magnitude.assign(
                part.keras_magnitude(tensors[lora_key(module.path, MAGNITUDE)])
            )


def _check_fan_in_fan_out(settings, architecture, source):
    conv1d = architecture.layout == "conv1d"
    if settings.fan_in_fan_out != conv1d:
        warnings.warn(
            f"{source}: fan_in_fan_out={settings.fan_in_fan_out} but {architecture.name}'s modules "
            f"are {'Conv1D ([in, out] weights)' if conv1d else 'torch.nn.Linear ([out, in] weights)'}"
            f"; using fan_in_fan_out={conv1d}, as PEFT does. The LoRA tensors are the same.",
            stacklevel=3,
        )


def _model_prefix(tensors, architecture, path):
    """`architecture.model_prefix` (a task class's file) or `""` (the bare base model's)."""
    lora_modules = sorted(
        {m for m, kind in map(parse_key, tensors) if kind in (LORA_A, LORA_B, MAGNITUDE)}
    )
    unparsed = sorted(k for k in tensors if parse_key(k)[0] is None)
    if unparsed:
        raise ValueError(
            f"The adapter at {str(path)!r} has tensors that are not PEFT LoRA or modules_to_save "
            f"weights (keys must start with {KEY_PREFIX!r}): {unparsed[:5]}"
        )
    if not lora_modules:
        raise ValueError(f"The adapter at {str(path)!r} holds no LoRA tensors.")
    found = set()
    for module in lora_modules:
        for prefix in (architecture.model_prefix, ""):
            if module.startswith(f"{prefix}{architecture.blocks}."):
                found.add(prefix)
                break
    if len(found) != 1:
        example = architecture.module_prefix(architecture.model_prefix, 0) + next(
            iter(architecture.modules)
        )
        raise ValueError(
            f"The adapter at {str(path)!r} does not fit a {architecture.name} model: its LoRA "
            f"modules {lora_modules[:4]} are not all blocks of one {architecture.name} model "
            f"(expected paths such as {example!r})."
        )
    return found.pop()


def _targeted_modules(settings, modules, architecture, model_prefix, source):
    """The `HfModule`s PEFT puts LoRA on, with PEFT's matching rules."""
    targets = settings.target_modules
    if targets is None:
        targets = architecture.default_target_modules
    outside = list(architecture.saved_module_paths(model_prefix, task=bool(model_prefix)))
    block_names = list(architecture.modules)
    if isinstance(targets, str) and targets.lower() == ALL_LINEAR:
        selected = list(modules.values())
    else:
        if not isinstance(targets, str):
            for entry in targets:
                if any(suffix_matches(path, entry) for path in modules):
                    continue
                if any(suffix_matches(path, entry) for path in outside):
                    raise ValueError(
                        f"{source}: `target_modules` entry {entry!r} is outside the "
                        f"{architecture.name} blocks; keras-adapters puts LoRA on block "
                        f"projections only ({block_names}). Received: target_modules={list(targets)!r}"
                    )
                raise ValueError(
                    f"{source}: `target_modules` entry {entry!r} names no module of a "
                    f"{architecture.name} block. Valid names: {block_names} (or a suffix of "
                    f"one). Received: target_modules={list(targets)!r}"
                )
        _check_layers(settings, len({m.index for m in modules.values()}), source)
        selected = [
            m
            for m in modules.values()
            if matches_target(
                m.path, targets, settings.layers_to_transform, settings.layers_pattern
            )
        ]
    selected = [m for m in selected if not is_excluded(m.path, settings.exclude_modules)]
    if not selected:
        raise ValueError(
            f"{source}: `target_modules` selects no module of this {architecture.name} model "
            f"(block modules look like {next(iter(modules))!r}). Received: "
            f"target_modules={targets!r}, layers_to_transform={settings.layers_to_transform!r}, "
            f"layers_pattern={settings.layers_pattern!r}, exclude_modules={settings.exclude_modules!r}"
        )
    return selected


def _check_layers(settings, num_blocks, source):
    layers = settings.layers_to_transform
    indices = [layers] if isinstance(layers, int) else list(layers or ())
    beyond = [i for i in indices if i >= num_blocks]
    if beyond:
        raise ValueError(
            f"{source}: `layers_to_transform` names blocks {beyond}, but this model has "
            f"{num_blocks} blocks (0 to {num_blocks - 1}). Received: layers_to_transform={layers!r}"
        )


def _saved_weights(model, settings, architecture, model_prefix, tensors, source):
    """`{file key: (Keras variable, transposed, layer path)}` of the `modules_to_save` weights.

    A module named by an entry of `modules_to_save` (itself or a module
    containing it) must be in the file. One that PEFT may also have wrapped
    (its automatic `classifier`/`score` for `SEQ_CLS`, or a plain `endswith`
    match such as DistilBERT's `pre_classifier` for `classifier`) is loaded
    when the file has it.
    """
    requested = tuple(settings.modules_to_save or ())
    implied = SEQ_CLS_HEADS if settings.task_type == "SEQ_CLS" else ()
    table = architecture.saved_module_paths(model_prefix, task=bool(model_prefix))
    for entry in requested:
        if entry not in implied and not any(covers_module(m, [entry]) for m in table):
            raise ValueError(
                f"{source}: `modules_to_save` entry {entry!r} is no module keras-adapters can map "
                f"onto this {architecture.name} model. Mapped modules: {sorted(table)}. "
                f"Received: modules_to_save={list(requested)!r}"
            )
    saved = {}
    for module, record in table.items():
        keys = {f"{KEY_PREFIX}{module}.{parameter}": parameter for parameter in record.weights}
        required = covers_module(module, requested, strict=True)
        if not required and not (
            covers_module(module, requested + implied) and all(k in tensors for k in keys)
        ):
            continue
        layer = find_layer(model, record.layer)
        if layer is None:
            raise ValueError(
                f"{source}: `modules_to_save` includes {module!r}, held in KerasHub by the layer "
                f"{record.layer!r}, which this model does not have (a {type(model).__name__})."
            )
        for key, parameter in keys.items():
            variable = find_weight(layer, record.weights[parameter])
            if variable is None:
                raise ValueError(
                    f"{source}: `modules_to_save` includes {module!r}, whose {parameter!r} is "
                    f"{record.layer}/{record.weights[parameter]} in KerasHub; this model's layer "
                    "has no such weight (e.g. tied embeddings have no separate lm_head)."
                )
            saved[key] = (variable, parameter in record.transposed, layer.path)
    return saved


def _check_tensors(path, expected, found, architecture):
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if not (missing or unexpected or wrong):
        return
    lines = [f"The PEFT adapter at {str(path)!r} does not fit this {architecture.name} model:"]
    lines += [f"  shape of {k}: file {found[k]}, model {expected[k]}" for k in wrong[:10]]
    lines += [f"  missing in file: {k} {expected[k]}" for k in missing[:10]]
    lines += [f"  not in model: {k} {found[k]}" for k in unexpected[:10]]
    if unexpected:
        lines.append(
            "  (tensors outside the selected block projections, or of modules not in "
            "`modules_to_save`, cannot be placed)"
        )
    raise ValueError("\n".join(lines))


def _keras_config(settings, targeted, context, saved):
    """The `LoraConfig` / `DoraConfig` whose sites are exactly the targeted modules' layers."""
    sites = {(m.index, part.slot): part.layer.path for m in targeted for part in m.parts}
    slots = sorted({s for _, s in sites}, key=list(context.spec.slots).index)
    indices = sorted({i for i, _ in sites})
    if len(sites) == len(slots) * len(indices):
        targets = tuple(slots)
        layers = None if len(indices) == len(context.blocks) else tuple(indices)
    else:
        targets = "|".join(re.escape(p) for p in sorted(sites.values()))
        layers = None
    layer_paths = sorted({layer_path for _, _, layer_path in saved.values()})
    config_class = DoraConfig if settings.use_dora else LoraConfig
    return config_class(
        rank=settings.r,
        alpha=settings.lora_alpha,
        dropout=settings.lora_dropout,
        use_rslora=settings.use_rslora,
        targets=targets,
        layers=layers,
        modules_to_save=tuple(layer_paths),
    )
