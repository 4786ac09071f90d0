"""`MamConfig`: the mix-and-match adapter (He et al. 2022): prefix tuning + a scaled parallel adapter."""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig
from keras_adapters.methods.bottleneck.parallel_config import ParallelConfig
from keras_adapters.methods.prefix.prefix_config import PrefixConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class MamConfig(AdapterConfig):
    """MAM adapter: prefix tuning in attention plus a scaled parallel adapter on the FFN.

    He et al. (2022, "Towards a Unified View of Parameter-Efficient Transfer
    Learning") found this mix the best use of a parameter budget: a small
    prefix in every attention layer and a scaled parallel bottleneck adapter
    beside every feed-forward block, `x2 = LN(h_ffn + s * A(x1) + x1)` (post-LN)
    or `h + FFN(x) + s * A(x)` (pre-LN). It is one adapter built from the
    existing prefix and parallel pieces (`prefix_part`, `parallel_part`), so
    it switches, saves, merges (nothing to merge) and exports as one.

    Args:
        num_prefix_tokens: prefix length per layer (the paper uses 30).
        reparameterize: train the prefixes through an MLP (see
            `keras_adapters.PrefixConfig`).
        projection_dim: hidden width of that MLP.
        bottleneck_dim: width of the parallel adapter; if `None`,
            `hidden_dim // reduction_factor`.
        reduction_factor: used when `bottleneck_dim` is `None`.
        scaling: the parallel adapter's scale `s` (the paper uses 4).
        activation: the parallel adapter's activation.
        dropout: dropout on the parallel adapter's output.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.MamConfig(num_prefix_tokens=30), "mam")
    ```
    """

    method = "mam"

    num_prefix_tokens: int = 30
    reparameterize: bool = False
    projection_dim: int = 512
    bottleneck_dim: int = None
    reduction_factor: int = 16
    scaling: float = 4.0
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        validation.check_bool("reparameterize", self.reparameterize)
        self.prefix_part()  # each part checks its own fields
        self.parallel_part()

    def prefix_part(self):
        """The `keras_adapters.PrefixConfig` of the attention half."""
        return PrefixConfig(
            num_prefix_tokens=self.num_prefix_tokens,
            reparameterize=self.reparameterize,
            projection_dim=self.projection_dim,
            layers=self.layers,
        )

    def parallel_part(self):
        """The `keras_adapters.ParallelConfig` of the feed-forward half."""
        return ParallelConfig(
            bottleneck_dim=self.bottleneck_dim,
            reduction_factor=self.reduction_factor,
            scaling=self.scaling,
            activation=self.activation,
            dropout=self.dropout,
            layers=self.layers,
        )

    def folded(self):
        """The config after `keras_adapters.eject_prefix` folds the prefix MLP."""
        return self.replace(reparameterize=False) if self.reparameterize else None
