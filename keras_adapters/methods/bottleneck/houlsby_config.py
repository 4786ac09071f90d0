"""`HoulsbyConfig`: bottleneck adapters after attention and after the feed-forward block."""

import dataclasses

from keras_adapters.methods.bottleneck.bottleneck_config import BottleneckConfig


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
    activation: str = "swish"
