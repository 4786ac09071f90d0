"""`ParallelConfig`: a scaled bottleneck adapter parallel to the feed-forward block."""

import dataclasses

from keras_adapters.methods.bottleneck.bottleneck_config import BottleneckConfig


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
    activation: str = "relu"
    scaling: float = 4.0
