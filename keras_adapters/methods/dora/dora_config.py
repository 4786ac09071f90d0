"""`DoraConfig`: weight-decomposed low-rank adaptation (Liu et al. 2024)."""

import dataclasses

from keras_adapters.methods.lora.low_rank_config import LowRankConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class DoraConfig(LowRankConfig):
    """DoRA: `W' = m * (W + s A B) / ||W + s A B||`, `m` = the column norms of `W` at init.

    LoRA's update `s A B` changes the direction of each output feature's
    weight column; a learned magnitude vector `m` sets its length. The norm
    runs over the kernel's input axes, once per output feature (for an
    `EinsumDense` kernel: per combination of its output axes). At init
    `B = 0` and `m = ||W||`, so the model is unchanged. As in peft and the
    paper, the norm is a constant in the backward pass (no gradient flows
    through it; `m` still gets its exact gradient).

    Args:
        rank: rank `r` of the update, > 0.
        alpha: scaling numerator; `s = alpha / rank` (rsLoRA:
            `alpha / sqrt(rank)`). Defaults to `rank` (scale 1).
        dropout: dropout rate on the input of the update, in [0, 1); as in
            peft, the base product of the magnitude rescaling sees the
            dropped input too.
        use_rslora: use the rank-stabilised scale `alpha / sqrt(rank)`.
        targets: which layers (`keras.layers.Dense` / `EinsumDense`): slots
            of the backbone spec or path patterns, as for
            `keras_adapters.LoraConfig`; `"all-linear"`: every projection slot.
        exclude: same forms as `targets`; matching layers are skipped.
        a_initializer: the name of a Keras initializer for `A`.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    config = keras_adapters.DoraConfig(rank=8, alpha=16, targets=["query", "value"])
    keras_adapters.add_adapter(classifier, config, adapter_name="sst2")
    ```

    References:
        - [Liu et al., 2024](https://arxiv.org/abs/2402.09353)
    """

    method = "dora"
