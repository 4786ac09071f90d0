"""`PfeifferConfig`: one bottleneck adapter after the feed-forward block."""

import dataclasses

from keras_adapters.methods.bottleneck.bottleneck_config import BottleneckConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class PfeifferConfig(BottleneckConfig):
    """Pfeiffer (AdapterHub `SeqBnConfig`): one adapter after the feed-forward block.

    In post-LN blocks (BERT family): `t = LN_ffn(h_ffn + x1)`,
    `x2 = LN_ffn(h_ffn + A(t) + x1)`: the adapter reads the normal block
    output and the block's own LayerNorm is applied again. In pre-LN blocks
    (GPT-2, Llama...): `x2 = x1 + h_ffn + A(h_ffn)`, the adapter on the
    feed-forward output before its residual add.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.PfeifferConfig(), "sst2")
    ```
    """

    method = "pfeiffer"
    activation: str = "relu"
