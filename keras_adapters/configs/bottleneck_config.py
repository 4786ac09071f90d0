"""Bottleneck adapter configs: one class per placement.

The three placements share one adapter module
(`keras_adapters.layers.BottleneckAdapter`) and differ only in where it reads
and writes, exactly as ../METHODS.md (AdapterHub's `SeqBnConfig`,
`DoubleSeqBnConfig`, `ParBnConfig`) defines them.
"""

import dataclasses

from keras_adapters.configs import validation
from keras_adapters.configs.adapter_config import AdapterConfig
from keras_adapters.configs.adapter_config import register_config


@dataclasses.dataclass(frozen=True, kw_only=True)
class BottleneckConfig(AdapterConfig):
    """Hyperparameters common to every bottleneck placement.

    `A(z) = scaling * (act(z W_down + b_down) W_up + b_up)`, with `W_up`,
    `b_up` zero at init, so the adapted model starts as the base model.

    Args:
        bottleneck_dim: width of the bottleneck. If `None`,
            `hidden_dim // reduction_factor`.
        reduction_factor: used when `bottleneck_dim` is `None`; must divide
            the hidden size.
        activation: one of relu, gelu, gelu_approximate, swish, silu, tanh,
            sigmoid, linear.
        scaling: constant factor on the adapter output.
        dropout: dropout rate on the adapter output, in [0, 1).
        layer_norm: apply a new LayerNormalization to the adapter input.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.
    """

    method = "bottleneck"
    sites = ()

    bottleneck_dim: int = None
    reduction_factor: int = 16
    activation: str = "relu"
    scaling: float = 1.0
    dropout: float = 0.0
    layer_norm: bool = False

    def __post_init__(self):
        super().__post_init__()
        validation.check_optional_positive_int("bottleneck_dim", self.bottleneck_dim)
        validation.check_positive_int("reduction_factor", self.reduction_factor)
        validation.check_activation("activation", self.activation)
        object.__setattr__(self, "scaling", validation.check_positive_number("scaling", self.scaling))
        object.__setattr__(self, "dropout", validation.check_dropout("dropout", self.dropout))
        if not isinstance(self.layer_norm, bool):
            raise ValueError(f"`layer_norm` must be a bool. Received: layer_norm={self.layer_norm!r}")

    def resolve_bottleneck_dim(self, hidden_dim):
        """Checks the width against the model's hidden size and returns it."""
        if self.bottleneck_dim is not None:
            if self.bottleneck_dim > hidden_dim:
                raise ValueError(
                    f"`bottleneck_dim` must be at most the hidden size {hidden_dim}. "
                    f"Received: bottleneck_dim={self.bottleneck_dim}"
                )
            return self.bottleneck_dim
        if hidden_dim % self.reduction_factor:
            raise ValueError(
                f"`reduction_factor` must divide the hidden size {hidden_dim}. "
                f"Received: reduction_factor={self.reduction_factor}"
            )
        return hidden_dim // self.reduction_factor


@register_config
@dataclasses.dataclass(frozen=True, kw_only=True)
class PfeifferConfig(BottleneckConfig):
    """Pfeiffer (AdapterHub `SeqBnConfig`): one adapter after the feed-forward block.

    `t = LN_ffn(h_ffn + x1)`, `x2 = LN_ffn(h_ffn + A(t) + x1)`: the adapter reads
    the normal block output and the block's own LayerNorm is applied again.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.PfeifferConfig(), "sst2")
    ```
    """

    method = "pfeiffer"
    sites = ("ffn_norm",)
    activation: str = "relu"


@register_config
@dataclasses.dataclass(frozen=True, kw_only=True)
class HoulsbyConfig(BottleneckConfig):
    """Houlsby (AdapterHub `DoubleSeqBnConfig`): after attention and after the FFN.

    `x1 = LN_att(h_att + A_att(h_att) + x)`, `x2 = LN_ffn(h_ffn + A_ffn(h_ffn) + x1)`.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.HoulsbyConfig(), "sst2")
    ```
    """

    method = "houlsby"
    sites = ("attention_residual", "ffn_residual")
    activation: str = "swish"


@register_config
@dataclasses.dataclass(frozen=True, kw_only=True)
class ParallelConfig(BottleneckConfig):
    """Scaled parallel adapter (He et al. 2022, AdapterHub `ParBnConfig`).

    `x2 = LN_ffn(h_ffn + scaling * A(x1) + x1)`: reads the feed-forward input,
    added to its output.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.ParallelConfig(), "sst2")
    ```
    """

    method = "parallel"
    sites = ("ffn_chain",)
    activation: str = "relu"
    scaling: float = 4.0
