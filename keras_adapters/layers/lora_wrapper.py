"""`LoraWrapper`: what LoRA on a Dense, EinsumDense or Embedding shares."""

from keras import ops

from keras_adapters.layers.adapter_wrapper import AdapterWrapper


class LoraWrapper(AdapterWrapper):
    """Adds `scale * dropout(x) A B` of each active adapter to a projection.

    Merging adds `scale * A B` (shaped like the kernel) to the base kernel in
    float32 and skips the branch in `call`; unmerging subtracts it again.
    Subclasses define the kernel, the shapes of `A`/`B` and the products.

    Args:
        base_layer: the projection to adapt.
        adapters: dict of name to `keras_adapters.layers.LoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names whose update is already inside the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    base_class = None

    def __init__(self, base_layer, adapters=None, active_adapters=None, merged_adapters=(), **kwargs):
        if not isinstance(base_layer, self.base_class) or getattr(
            base_layer, "quantization_mode", None
        ):
            raise ValueError(
                f"{type(self).__name__} wraps an unquantized `{self.base_class.__name__}`. "
                f"Received: base_layer={base_layer!r}"
            )
        if getattr(base_layer, "lora_enabled", False):
            raise ValueError(
                f"Layer {base_layer.name!r} already has Keras' built-in LoRA enabled; use one "
                "LoRA implementation per layer."
            )
        super().__init__(base_layer, adapters=adapters, active_adapters=active_adapters, **kwargs)
        self.merged_adapters = tuple(merged_adapters)

    # === What subclasses define ===

    @property
    def kernel(self):
        """The base variable that merging changes."""
        raise NotImplementedError

    @classmethod
    def lora_shapes_for(cls, base_layer, rank):
        """Returns `(a_shape, b_shape)` of a rank-`rank` adapter on `base_layer`."""
        raise NotImplementedError

    def lora_shapes(self, rank):
        """Returns `(a_shape, b_shape)` for an adapter of this rank on this layer."""
        return self.lora_shapes_for(self.base_layer, rank)

    def kernel_delta(self, module):
        """`scale * A B` shaped like `kernel`, in float32."""
        raise NotImplementedError

    # === Merge ===

    def merge(self, names=None):
        """Adds the updates of `names` (default: active, unmerged) to the kernel."""
        names = [n for n in (self.active_adapters if names is None else names)]
        names = [n for n in names if n not in self.merged_adapters]
        for name in names:
            delta = self.kernel_delta(self.get_adapter(name))
            self.kernel.assign(ops.cast(self.kernel, "float32") + delta)
        self.merged_adapters = self.merged_adapters + tuple(names)
        return tuple(names)

    def unmerge(self):
        """Subtracts every merged update from the kernel."""
        names = self.merged_adapters
        for name in reversed(names):
            delta = self.kernel_delta(self.get_adapter(name))
            self.kernel.assign(ops.cast(self.kernel, "float32") - delta)
        self.merged_adapters = ()
        return names

    def pending_modules(self):
        """Active adapters whose update is not inside the kernel."""
        return self.adapter_modules(
            [n for n in self.active_adapters if n not in self.merged_adapters]
        )

    def add_adapter(self, name, module):
        """Adds a `LoraWeights` module (built here if needed: its shapes are known)."""
        if not module.built:
            module.build()
        super().add_adapter(name, module)

    def remove_adapter(self, name):
        if name in self.merged_adapters:
            raise ValueError(
                f"Adapter {name!r} is merged into {self.base_layer.name}; unmerge it first."
            )
        return super().remove_adapter(name)

    def get_config(self):
        config = super().get_config()
        config["merged_adapters"] = list(self.merged_adapters)
        return config
