"""`LoraConfig`: low-rank adaptation of projections (Hu et al. 2021)."""

import dataclasses

from keras_adapters.methods.lora.low_rank_config import LowRankConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoraConfig(LowRankConfig):
    """LoRA: `y = base(x) + scale * dropout(x) A B`, with `B` zero at init.

    Args:
        rank: rank `r` of the update, > 0.
        alpha: scaling numerator; `scale = alpha / rank` (rsLoRA:
            `alpha / sqrt(rank)`). Defaults to `rank` (scale 1), as Keras'
            `enable_lora` does.
        dropout: dropout rate on the LoRA input, in [0, 1).
        use_rslora: use the rank-stabilised scale `alpha / sqrt(rank)`.
        targets: which layers. Semantic slots of the backbone spec (`"query"`,
            `"key"`, `"value"`, `"attention_output"`, `"ffn_gate"`,
            `"ffn_intermediate"`, `"ffn_output"`...), or path patterns on
            `layer.path`: a string is a full regex match, a list entry matches
            a path exactly or as a suffix after `/`. `"all-linear"`: every
            projection slot the backbone's spec defines.
        exclude: same forms as `targets`; matching layers are skipped.
        a_initializer: the name of a Keras initializer for `A`.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    config = keras_adapters.LoraConfig(rank=8, alpha=16, targets=["query", "value"])
    keras_adapters.add_adapter(classifier, config, adapter_name="sst2")
    ```
    """

    method = "lora"
