"""`ParallelAdapterSite`: adapters in parallel with a feed-forward branch."""

from keras_adapters.core.serialization import register
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite


@register
class ParallelAdapterSite(BottleneckSite):
    """`return branch(x) + sum(A(x))`: the adapter reads the branch input.

    The base layer is the whole feed-forward branch (a
    `keras_adapters.layers.LayerChain` of the intermediate dense, output
    dense and dropout), so a post-LN block then computes
    `LN(h_ffn + s * A(x1) + x1)`: the scaled parallel adapter of He et al.
    (2022), AdapterHub `ParBnConfig`. The scale is the adapter's `scaling`.

    Args:
        base_layer: the branch, usually a `keras_adapters.layers.LayerChain`.
        adapters: dict of name to `keras_adapters.layers.BottleneckAdapter`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    branch = keras_adapters.layers.LayerChain(
        {"ffn_intermediate": keras.layers.Dense(32), "ffn_output": keras.layers.Dense(8)}
    )
    site = keras_adapters.layers.ParallelAdapterSite(
        branch,
        adapters={"a": keras_adapters.layers.BottleneckAdapter(bottleneck_dim=4, scaling=4.0)},
    )
    ```
    """

    def call(self, inputs, training=None):
        outputs = self.base_layer(inputs)
        delta = self.composed_delta(inputs, training)
        return outputs if delta is None else outputs + delta
