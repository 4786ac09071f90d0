"""`PostNormAdapterSite`: Pfeiffer's adapter around a post-LN block's LayerNorm."""

from keras_adapters.core.serialization import register
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite


@register
class PostNormAdapterSite(BottleneckSite):
    """`t = LN(z); return LN(z + sum(A(t)))` where `z = h + x1` is the LN input.

    Installed on the feed-forward LayerNorm of a post-LN block, this is the
    Pfeiffer placement of docs/methods.md (AdapterHub `SeqBnConfig` with
    `original_ln_before=True`, `original_ln_after=True`,
    `residual_before_ln=True`): the adapter reads the normal block output and
    the block's own LayerNorm is applied again to the sum.

    Args:
        base_layer: the block's `keras.layers.LayerNormalization`.
        adapters: dict of name to `keras_adapters.layers.BottleneckAdapter`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    site = keras_adapters.layers.PostNormAdapterSite(
        keras.layers.LayerNormalization(),
        adapters={"a": keras_adapters.layers.BottleneckAdapter(bottleneck_dim=8)},
    )
    ```
    """

    def call(self, inputs, training=None):
        normed = self.base_layer(inputs)
        delta = self.composed_delta(normed, training)
        return normed if delta is None else self.base_layer(inputs + delta)
