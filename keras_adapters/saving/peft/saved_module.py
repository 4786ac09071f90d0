"""`SavedModule`: a Hugging Face module whose whole weights PEFT saves, and its Keras layer."""

import dataclasses
import types

from keras_adapters.saving.peft.module_names import check_module_path

MODEL_PLACEHOLDER = "{model}"


@dataclasses.dataclass(frozen=True)
class SavedModule:
    """Where a PEFT `modules_to_save` module lives in the KerasHub model, as data.

    PEFT saves such a module's parameters whole, under
    `base_model.model.<module>.<parameter>`. A module inside the Hugging Face
    base model starts with `{model}` (replaced by the base model's attribute,
    e.g. `bert.` in `BertForSequenceClassification`, nothing in `BertModel`);
    a module without it belongs to a task class only (a classifier head,
    `lm_head`).

    Args:
        layer: path of the Keras layer (`layer.path`), e.g. `"logits"`.
        weights: Hugging Face parameter name -> Keras weight name, e.g.
            `{"weight": "kernel", "bias": "bias"}`.
        transposed: the parameters stored transposed in Keras (a
            `torch.nn.Linear` weight is `[out, in]`, a Keras kernel
            `[in, out]`).
        peft_name: the name `save_peft_adapter` writes in `modules_to_save`;
            defaults to the module path.

    Example:
    ```python
    keras_adapters.saving.SavedModule(
        "logits", {"weight": "kernel", "bias": "bias"}, transposed=("weight",)
    )
    ```
    """

    layer: str
    weights: dict
    transposed: tuple = ()
    peft_name: str = None

    def __post_init__(self):
        if not isinstance(self.layer, str) or not self.layer or self.layer.startswith("/"):
            raise ValueError(
                f"`layer` must be the path of a Keras layer. Received: layer={self.layer!r}"
            )
        if not isinstance(self.weights, dict) or not self.weights:
            raise ValueError(
                "`weights` must map Hugging Face parameter names to Keras weight names. "
                f"Received: weights={self.weights!r}"
            )
        bad = {k: v for k, v in self.weights.items() if not _identifiers(k, v)}
        if bad:
            raise ValueError(f"`weights` entries must be identifiers. Received: {bad!r}")
        unknown = [p for p in self.transposed if p not in self.weights]
        if unknown:
            raise ValueError(
                f"`transposed` must list keys of `weights` ({list(self.weights)}). "
                f"Received: transposed={tuple(self.transposed)!r}"
            )
        if self.peft_name is not None:
            check_module_path("peft_name", self.peft_name)
        object.__setattr__(self, "weights", types.MappingProxyType(dict(self.weights)))
        object.__setattr__(self, "transposed", tuple(self.transposed))


def _identifiers(*names):
    return all(isinstance(n, str) and n.isidentifier() for n in names)
