"""`BottleneckSite`: what every bottleneck-adapter wrapper shares: composing its modules."""

from keras_adapters.core.adapter_wrapper import AdapterWrapper


class BottleneckSite(AdapterWrapper):
    """Base of the wrappers that add bottleneck adapters' outputs at a site.

    `composed_delta(z)` is what the active modules add for the input `z` they
    read: each module's output summed, or, when the model's active adapters
    are a `keras_adapters.Stack`, chained (`u = z; u = u + A(u)` per module,
    the delta being `u - z`). A module that fuses other adapters (an
    AdapterFusion layer, with `fused_adapters`) is given their outputs.

    Args:
        base_layer: the layer being adapted.
        adapters: dict of adapter name to adapter module.
        active_adapters: names of the adapters used in `call`; defaults to all.
        location: the stable key of this site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def composed_delta(self, inputs, training=None):
        """The active modules' contribution for the input `inputs`, or `None` if none."""
        modules = self.active_modules()
        if not modules:
            return None
        if self.composition == "stack":
            state = inputs
            for module in modules:
                state = state + self._module_output(module, state, training)
            return state - inputs
        delta = None
        for module in modules:
            output = self._module_output(module, inputs, training)
            delta = output if delta is None else delta + output
        return delta

    def _module_output(self, module, inputs, training):
        fused = getattr(module, "fused_adapters", None)
        if fused is None:
            return module(inputs, training=training)
        outputs = [self.get_adapter(name)(inputs, training=training) for name in fused]
        return module(inputs, outputs, training=training)
