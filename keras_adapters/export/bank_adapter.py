"""`BankAdapter`: one LoRA adapter file, read for an adapter bank."""

import dataclasses
import pathlib

import numpy as np
import safetensors.numpy

from keras_adapters.core.validation import check_adapter_name
from keras_adapters.methods.lora.lora_config import LoraConfig
from keras_adapters.methods.registry import config_from_dict
from keras_adapters.saving.adapter_file import (
    SAVED_MODULES_PREFIX,
    WEIGHTS_FILE,
    read_adapter_config,
)

FACTORS = ("lora_a", "lora_b")


@dataclasses.dataclass
class BankAdapter:
    """The weights of one LoRA adapter, as an adapter bank stores them.

    Attributes:
        name: the name requests select it by.
        source: the adapter directory it was read from.
        backbone: the backbone spec name it was trained on.
        config: its `keras_adapters.LoraConfig`.
        factors: `{site location: (A, B)}`, NumPy float32, `A` of shape
            `[kernel input axes..., rank]`, `B` of shape `[rank, kernel output axes...]`.
        head: `{variable path: array}` of its `modules_to_save` weights
            (a copy of the classifier head), or `{}`.
    """

    name: str
    source: str
    backbone: str
    config: LoraConfig
    factors: dict
    head: dict

    @property
    def rank(self):
        return self.config.rank

    @property
    def scale(self):
        return self.config.scale

    @classmethod
    def read(cls, path, name=None):
        """Reads an adapter directory written by `keras_adapters.save_adapter`.

        Args:
            path: the adapter directory.
            name: the name in the bank; defaults to the saved adapter name.

        Raises:
            ValueError: for a method other than LoRA, a name that is not an
                identifier, or weights that are not LoRA factors or saved
                modules.
        """
        saved = read_adapter_config(path)
        name = saved["adapter_name"] if name is None else name
        check_adapter_name(name)
        config = config_from_dict(saved["config"])
        if type(config) is not LoraConfig:
            raise ValueError(
                f"Adapter banks hold LoRA adapters only: each example's update is "
                f"`(x A[slot]) B[slot]`, gathered from padded `A`/`B` banks. The adapter at "
                f"{str(path)!r} is a {config.method!r} adapter ({type(config).__name__}); export "
                "it with `export_text_classifier` (several of them: adapters='switchable'). "
                f"Received: method={config.method!r}"
            )
        tensors = safetensors.numpy.load_file(str(pathlib.Path(path) / WEIGHTS_FILE))
        factors, head, unknown = {}, {}, []
        for key, value in tensors.items():
            value = np.asarray(value, dtype="float32")
            if key.startswith(SAVED_MODULES_PREFIX):
                head[key[len(SAVED_MODULES_PREFIX) :]] = value
                continue
            location, _, weight = key.rpartition("/")
            if weight not in FACTORS:
                unknown.append(key)
                continue
            factors.setdefault(location, [None, None])[FACTORS.index(weight)] = value
        incomplete = sorted(loc for loc, pair in factors.items() if any(v is None for v in pair))
        if unknown or incomplete:
            raise ValueError(
                f"The adapter at {str(path)!r} holds weights that are not LoRA factor pairs: "
                f"{sorted(unknown) + [f'{loc}/(lora_a or lora_b missing)' for loc in incomplete]}"
            )
        return cls(
            name=name,
            source=str(path),
            backbone=saved["backbone"],
            config=config,
            factors={location: tuple(pair) for location, pair in sorted(factors.items())},
            head=head,
        )
