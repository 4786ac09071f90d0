"""`TappedParallelSite`: a parallel adapter around a feed-forward that is not a chain."""

from keras_adapters.core.serialization import register
from keras_adapters.methods.bottleneck.bottleneck_site import BottleneckSite


@register
class TappedParallelSite(BottleneckSite):
    """`return base(h) + sum(A(x))`, `x` being the feed-forward input a tap recorded.

    Wraps the last layer of a gated feed-forward (its down projection); the
    matching `keras_adapters.layers.InputTap` on the gate projection records
    the feed-forward input `x`, so a pre-LN block computes
    `h + FFN(x) + s * A(x)` with `x = norm(h)`: the parallel adapter of He et
    al. (2022) around a gated FFN.

    Args:
        base_layer: the feed-forward's last layer.
        adapters: dict of name to `keras_adapters.layers.BottleneckAdapter`.
        active_adapters: names used in `call`; defaults to all.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def call(self, inputs, training=None):
        outputs = self.base_layer(inputs)
        modules = self.active_modules()
        if not modules:
            return outputs
        tapped = [module.__dict__.get("tapped_input") for module in modules]
        if any(t is None for t in tapped):
            raise RuntimeError(
                f"The parallel adapter at {self.location!r} found no recorded feed-forward "
                "input: the block did not call the tapped layer first."
            )
        for module in modules:
            object.__setattr__(module, "tapped_input", None)
        return outputs + self.composed_delta(tapped[0], training)
