"""`SerialAdapterSite`: adapters that read and add to a sublayer's output."""

from keras_adapters.core.serialization import register
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite


@register
class SerialAdapterSite(BottleneckSite):
    """`y = base(x); return y + sum(A(y) for each active adapter A)`.

    Installed on the last sublayer of a residual branch (the dropout after
    the attention output projection or after the FFN output projection), it
    gives Houlsby's placement: `LN(h + A(h) + x)`.

    Args:
        base_layer: the branch's last sublayer.
        adapters: dict of name to `keras_adapters.layers.BottleneckAdapter`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    site = keras_adapters.layers.SerialAdapterSite(
        keras.layers.Dropout(0.1),
        adapters={"a": keras_adapters.layers.BottleneckAdapter(bottleneck_dim=8)},
    )
    ```
    """

    def call(self, inputs, training=None):
        outputs = self.base_layer(inputs)
        delta = self.composed_delta(outputs, training)
        return outputs if delta is None else outputs + delta
