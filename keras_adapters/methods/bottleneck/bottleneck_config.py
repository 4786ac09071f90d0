"""`BottleneckConfig`: what the bottleneck placements (Pfeiffer, Houlsby, parallel) share.

The placements share one adapter module
(`keras_adapters.layers.BottleneckAdapter`) and differ only in where it reads
and writes, which is data: `keras_adapters.specs.BOTTLENECK_PLACEMENTS`
(AdapterHub's `SeqBnConfig`, `DoubleSeqBnConfig`, `ParBnConfig`; see
docs/methods.md).
"""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


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
        object.__setattr__(
            self, "scaling", validation.check_positive_number("scaling", self.scaling)
        )
        object.__setattr__(self, "dropout", validation.check_dropout("dropout", self.dropout))
        validation.check_bool("layer_norm", self.layer_norm)

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
