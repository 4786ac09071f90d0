"""`PostNormAdapterSite`: Pfeiffer's adapter around a post-LN block's LayerNorm."""

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.serialization import register


@register
class PostNormAdapterSite(AdapterWrapper):
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

    def call(self, inputs):
        normed = self.base_layer(inputs)
        modules = self.active_modules()
        if not modules:
            return normed
        summed = inputs
        for module in modules:
            summed = summed + module(normed)
        return self.base_layer(summed)
