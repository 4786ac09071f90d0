"""`PeftArchitecture`: how Hugging Face names one architecture's LoRA targets, as data."""

import dataclasses
import types

import keras

from keras_adapters.saving.peft.module_names import check_module_path, suffix_matches
from keras_adapters.saving.peft.saved_module import MODEL_PLACEHOLDER, SavedModule
from keras_adapters.specs.registry import get_backbone_class_spec
from keras_adapters.specs.slots import PROJECTION_SLOTS

LAYOUTS = ("linear", "conv1d")


@dataclasses.dataclass(frozen=True, eq=False)  # records compare (and hash) by identity
class PeftArchitecture:
    """The Hugging Face names of one architecture's projections, and their layout.

    A PEFT LoRA file keys each module by its path in the Hugging Face model,
    `base_model.model.<model_prefix><blocks>.<i>.<module>.lora_A.weight`
    (`[r, in]`) and `...lora_B.weight` (`[out, r]`). This record says which
    slot of the KerasHub block (`keras_adapters.specs.SLOTS`) holds each
    module, so that the names agree with KerasHub's own Hugging Face
    converters (`keras_hub/src/utils/transformers/convert_*.py`).

    Layout: a Hugging Face input (output) feature index runs row-major over
    the Keras kernel's input (output) axes, in the order the kernel lists
    them; this is how KerasHub's converters transpose and reshape every
    projection. So `A` becomes `lora_a` by `A.T.reshape(...)` and `B`
    becomes `lora_b` by `B.T.reshape(...)`, for `Dense` and `EinsumDense`
    kernels alike. `"linear"` modules are `torch.nn.Linear` (weight
    `[out, in]`); `"conv1d"` modules are transformers' `Conv1D` (weight
    `[in, out]`, PEFT's `fan_in_fan_out=True`); the LoRA factors have the
    same shapes in both.

    Args:
        name: a short name, e.g. `"bert"`.
        backbone_classes: the KerasHub backbone classes this record covers;
            each must have a registered `keras_adapters.specs.BackboneSpec`
            defining every slot named in `modules`.
        blocks: dotted path of the block list inside the Hugging Face base
            model, e.g. `"encoder.layer"` or `"layers"`.
        modules: block-relative module path -> tuple of slots. One slot for
            an ordinary projection; several for a fused one (GPT-2's
            `attn.c_attn` holds query, key and value, stacked along its
            output features in that order).
        model_prefix: the attribute holding the base model in the Hugging
            Face task classes (`"bert."` in `BertForSequenceClassification`,
            `"model."` in `LlamaForCausalLM`); the bare base model
            (`BertModel`, `LlamaModel`) has none. Files with either load.
        layout: `"linear"` or `"conv1d"`, see above.
        default_target_modules: what PEFT targets when `target_modules` is
            null (PEFT's `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`).
        name_hints: lower-case words starting a part of
            `base_model_name_or_path` that names this architecture
            (`"llama"`, `"smollm2"`); a name whose longest hint belongs to
            another record is refused.
        saved_modules: Hugging Face module path -> `SavedModule`, the
            modules PEFT's `modules_to_save` can carry (classifier heads,
            embeddings), with `{model}` standing for `model_prefix`.

    Example:
    ```python
    keras_adapters.saving.register_peft_architecture(
        keras_adapters.saving.PeftArchitecture(
            name="my_llama",
            backbone_classes=(MyLlamaBackbone,),
            blocks="layers",
            modules={"self_attn.q_proj": ("query",), "self_attn.v_proj": ("value",)},
            model_prefix="model.",
        )
    )
    ```
    """

    name: str
    backbone_classes: tuple
    blocks: str
    modules: dict
    model_prefix: str = ""
    layout: str = "linear"
    default_target_modules: tuple = ()
    name_hints: tuple = ()
    saved_modules: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"`name` must be an identifier. Received: name={self.name!r}")
        classes = tuple(self.backbone_classes or ())
        if not classes or not all(
            isinstance(c, type) and issubclass(c, keras.Model) for c in classes
        ):
            raise ValueError(
                "`backbone_classes` must be a non-empty tuple of KerasHub backbone classes. "
                f"Received: backbone_classes={self.backbone_classes!r}"
            )
        check_module_path("blocks", self.blocks)
        if not isinstance(self.model_prefix, str) or (
            self.model_prefix and not self.model_prefix.endswith(".")
        ):
            raise ValueError(
                "`model_prefix` must be '' or a module path ending with '.', e.g. 'model.'. "
                f"Received: model_prefix={self.model_prefix!r}"
            )
        if self.model_prefix:
            check_module_path("model_prefix", self.model_prefix[:-1])
        if self.layout not in LAYOUTS:
            raise ValueError(f"`layout` must be one of {LAYOUTS}. Received: layout={self.layout!r}")
        self._check_modules(classes)
        targets = tuple(self.default_target_modules or ())
        unmatched = [t for t in targets if not any(suffix_matches(m, t) for m in self.modules)]
        if unmatched:
            raise ValueError(
                f"`default_target_modules` {unmatched} match none of the modules "
                f"{list(self.modules)}. Received: default_target_modules={targets!r}"
            )
        hints = tuple(self.name_hints or ())
        if not all(isinstance(h, str) and h and h == h.lower() for h in hints):
            raise ValueError(
                f"`name_hints` must be non-empty lower-case strings. Received: name_hints={hints!r}"
            )
        self._check_saved_modules()
        object.__setattr__(self, "backbone_classes", classes)
        object.__setattr__(self, "default_target_modules", targets)
        object.__setattr__(self, "name_hints", hints)
        object.__setattr__(
            self, "modules", types.MappingProxyType({k: tuple(v) for k, v in self.modules.items()})
        )
        object.__setattr__(self, "saved_modules", types.MappingProxyType(dict(self.saved_modules)))

    def _check_modules(self, classes):
        if not isinstance(self.modules, dict) or not self.modules:
            raise ValueError(
                "`modules` must map block-relative module paths to tuples of slots. "
                f"Received: modules={self.modules!r}"
            )
        seen = {}
        for module, slots in self.modules.items():
            check_module_path("modules", module)
            if isinstance(slots, str) or not slots:
                raise ValueError(
                    f"`modules[{module!r}]` must be a non-empty tuple of slots. Received: {slots!r}"
                )
            for slot in slots:
                if slot not in PROJECTION_SLOTS:
                    raise ValueError(
                        f"`modules[{module!r}]` names {slot!r}, which is not a projection slot. "
                        f"Projection slots: {list(PROJECTION_SLOTS)}."
                    )
                if slot in seen:
                    raise ValueError(
                        f"Slot {slot!r} is held by both {seen[slot]!r} and {module!r} in `modules`."
                    )
                seen[slot] = module
        for backbone_class in classes:
            spec = get_backbone_class_spec(backbone_class)
            spec.require_slots(list(seen), f"PeftArchitecture {self.name!r}")

    def _check_saved_modules(self):
        if not isinstance(self.saved_modules, dict):
            raise ValueError(
                "`saved_modules` must map Hugging Face module paths to SavedModule records. "
                f"Received: saved_modules={self.saved_modules!r}"
            )
        for module, saved in self.saved_modules.items():
            check_module_path("saved_modules", module.replace(MODEL_PLACEHOLDER, "", 1))
            if not isinstance(saved, SavedModule):
                raise ValueError(
                    f"`saved_modules[{module!r}]` must be a SavedModule. Received: {saved!r}"
                )

    def module_prefix(self, model_prefix, index):
        """`<model_prefix><blocks>.<index>.`, the path of a block's modules."""
        return f"{model_prefix}{self.blocks}.{index}."

    def saved_module_paths(self, model_prefix, task):
        """`{module path: SavedModule}` for a model with `model_prefix` (task modules if `task`)."""
        paths = {}
        for module, saved in self.saved_modules.items():
            if module.startswith(MODEL_PLACEHOLDER):
                paths[model_prefix + module[len(MODEL_PLACEHOLDER) :]] = saved
            elif task:
                paths[module] = saved
        return paths
