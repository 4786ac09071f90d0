"""`LowRankConfig`: the hyperparameters of a low-rank update, shared by LoRA and DoRA."""

import dataclasses
import math

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class LowRankConfig(AdapterConfig):
    """Hyperparameters of `scale * dropout(x) A B`, with `B` zero at init.

    Base of `keras_adapters.LoraConfig` and `keras_adapters.DoraConfig`; not a
    method itself.

    Args:
        rank: rank `r` of the update, > 0.
        alpha: scaling numerator; `scale = alpha / rank` (rsLoRA:
            `alpha / sqrt(rank)`). Defaults to `rank` (scale 1), as Keras'
            `enable_lora` does.
        dropout: dropout rate on the input of the update, in [0, 1).
        use_rslora: use the rank-stabilised scale `alpha / sqrt(rank)`.
        targets: which layers. Semantic slots of the backbone spec (`"query"`,
            `"key"`, `"value"`, `"attention_output"`, `"ffn_gate"`,
            `"ffn_intermediate"`, `"ffn_output"`...), or path patterns on
            `layer.path`: a string is a full regex match, a list entry matches
            a path exactly or as a suffix after `/`. `"all-linear"`: every
            projection slot the backbone's spec defines.
        exclude: same forms as `targets`; matching layers are skipped.
        a_initializer: the name of a Keras initializer for `A` (e.g.
            `"he_uniform"`, `"zeros"`).
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.
    """

    rank: int = 8
    alpha: float = None
    dropout: float = 0.0
    use_rslora: bool = False
    targets: tuple = ("query", "value")
    exclude: tuple = None
    a_initializer: str = "he_uniform"

    def __post_init__(self):
        super().__post_init__()
        validation.check_positive_int("rank", self.rank)
        if self.alpha is not None:
            object.__setattr__(self, "alpha", validation.check_positive_number("alpha", self.alpha))
        object.__setattr__(self, "dropout", validation.check_dropout("dropout", self.dropout))
        validation.check_bool("use_rslora", self.use_rslora)
        object.__setattr__(
            self, "targets", validation.check_patterns("targets", self.targets, allow_none=False)
        )
        object.__setattr__(self, "exclude", validation.check_patterns("exclude", self.exclude))
        validation.check_initializer("a_initializer", self.a_initializer)

    @property
    def scale(self):
        """The factor applied to `A B`."""
        alpha = self.rank if self.alpha is None else self.alpha
        return alpha / (math.sqrt(self.rank) if self.use_rslora else self.rank)
