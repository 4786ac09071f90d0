"""`PrefixConfig`: prefix tuning (Li & Liang 2021)."""

import dataclasses

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrefixConfig(AdapterConfig):
    """Learned key/value prefixes prepended inside each targeted self-attention.

    Every query attends to the `num_prefix_tokens` prefixes; the padding mask
    still hides padded real tokens; positions of real tokens are unchanged.

    Args:
        num_prefix_tokens: prefix length `P` per layer, > 0.
        reparameterize: train the prefixes as `MLP(embedding table [P, hidden])`
            (tanh MLP). Fold them into plain prefixes afterwards with
            `keras_adapters.eject_prefix`.
        projection_dim: hidden width of the reparameterisation MLP.
        layers: block indices, or `None` for all blocks.
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    config = keras_adapters.PrefixConfig(num_prefix_tokens=16, reparameterize=True)
    keras_adapters.add_adapter(backbone, config, adapter_name="sst2")
    ```
    """

    method = "prefix"

    num_prefix_tokens: int = 10
    reparameterize: bool = False
    projection_dim: int = 512

    def __post_init__(self):
        super().__post_init__()
        validation.check_positive_int("num_prefix_tokens", self.num_prefix_tokens)
        validation.check_positive_int("projection_dim", self.projection_dim)
        validation.check_bool("reparameterize", self.reparameterize)

    def folded(self):
        """The plain-prefix config `keras_adapters.eject_prefix` leaves behind."""
        return self.replace(reparameterize=False) if self.reparameterize else None
