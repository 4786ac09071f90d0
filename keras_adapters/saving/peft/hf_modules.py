"""The Hugging Face modules of one KerasHub model, and the layers that hold them.

A PEFT LoRA module `A` `[r, in]`, `B` `[out, r]` becomes one keras-adapters
`LoraWeights` per slot of the module: `lora_a = A.T` reshaped to the kernel's
input axes, `lora_b = B[rows].T` reshaped to its output axes (see
`keras_adapters.saving.PeftArchitecture` for why the flattening is row-major
in kernel order). A fused module (GPT-2's `c_attn`) gives each slot its own
rows of `B` and a copy of `A`.
"""

import dataclasses
import math

import numpy as np

from keras_adapters.methods.lora.plan_lora import lora_wrapper_class


@dataclasses.dataclass(frozen=True)
class HfPart:
    """The Keras layer holding some output features of a Hugging Face module.

    Attributes:
        slot: the layer's slot in the block.
        layer: the Keras projection (under any wrapper).
        in_shape: the kernel's input axes (the shape of `lora_a` without `r`).
        out_shape: the kernel's output axes (the shape of `lora_b` without `r`).
        offset: first output feature of the module that this layer holds.
    """

    slot: str
    layer: object
    in_shape: tuple
    out_shape: tuple
    offset: int

    @property
    def out_features(self):
        return math.prod(self.out_shape)

    @property
    def rows(self):
        return slice(self.offset, self.offset + self.out_features)

    def keras_factors(self, lora_a, lora_b):
        """`(lora_a, lora_b)` of this layer from PEFT's `lora_A.weight` and `lora_B.weight`."""
        rank = lora_a.shape[0]
        return (
            np.ascontiguousarray(lora_a.T.reshape(self.in_shape + (rank,))),
            np.ascontiguousarray(lora_b[self.rows].T.reshape((rank,) + self.out_shape)),
        )

    def keras_magnitude(self, magnitude):
        """DoRA's magnitude of this layer from PEFT's `lora_magnitude_vector`."""
        return np.ascontiguousarray(magnitude[self.rows].reshape(self.out_shape))

    @staticmethod
    def hf_factors(lora_a, lora_b):
        """`(A [r, in], B [out, r])` from this layer's `lora_a`, `lora_b`."""
        rank = lora_a.shape[-1]
        return lora_a.reshape(-1, rank).T, lora_b.reshape(rank, -1).T


@dataclasses.dataclass(frozen=True)
class HfModule:
    """One Hugging Face projection of one block.

    Attributes:
        index: the block index.
        name: the block-relative module path, e.g. `"self_attn.q_proj"`.
        path: the module path in the Hugging Face model, e.g.
            `"model.layers.0.self_attn.q_proj"`.
        parts: the `HfPart`s, in the order of the module's output features.
    """

    index: int
    name: str
    path: str
    parts: tuple

    @property
    def in_features(self):
        return math.prod(self.parts[0].in_shape)

    @property
    def out_features(self):
        return sum(part.out_features for part in self.parts)


def hf_modules(context, architecture, model_prefix):
    """`{module path: HfModule}` for every block of the model and module of `architecture`."""
    modules = {}
    for index, block in enumerate(context.blocks):
        for name, slots in architecture.modules.items():
            parts, offset = [], 0
            for slot in slots:
                layer = context.slot_layer(block, slot)
                a_shape, b_shape = lora_wrapper_class(layer).lora_shapes_for(layer, 1)
                parts.append(HfPart(slot, layer, tuple(a_shape[:-1]), tuple(b_shape[1:]), offset))
                offset += parts[-1].out_features
            if len({math.prod(p.in_shape) for p in parts}) != 1:
                raise ValueError(
                    f"The slots {list(slots)} of module {name!r} read inputs of different sizes "
                    f"{[p.in_shape for p in parts]}; they cannot form one Hugging Face module."
                )
            path = architecture.module_prefix(model_prefix, index) + name
            modules[path] = HfModule(index, name, path, tuple(parts))
    return modules
