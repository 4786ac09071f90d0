"""`LoraWrapper`: what LoRA on a Dense, EinsumDense or Embedding shares."""

from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.methods.lora.quantized_kernel import (
    TRAINABLE_MODES,
    assign_float_kernel,
    check_mergeable,
    check_quantization,
    float_kernel,
    kernel_variables,
)


def check_base_layer(wrapper_name, base_layer, base_class, quantization_modes=TRAINABLE_MODES):
    """Raises unless `base_layer` is a `base_class` adapters can wrap, without Keras' own LoRA.

    The base may be float or quantised by Keras in one of `quantization_modes`
    (its kernel frozen; the wrapper reads and rewrites it through
    `keras_adapters.methods.lora.quantized_kernel`). Keras' built-in LoRA would
    change the kernel under the wrapper.
    """
    if not isinstance(base_layer, base_class):
        raise ValueError(
            f"{wrapper_name} wraps a `{base_class.__name__}`. Received: base_layer={base_layer!r}"
        )
    check_quantization(wrapper_name, base_layer, quantization_modes)
    if getattr(base_layer, "lora_enabled", False):
        raise ValueError(
            f"Layer {base_layer.name!r} already has Keras' built-in LoRA enabled; "
            f"{wrapper_name} cannot adapt it as well (use one LoRA implementation per layer)."
        )


class LoraWrapper(MergeableWrapper):
    """Adds `scale * dropout(x) A B` of each active adapter to a projection.

    LoRA's merge is additive: merging adds `scale * A B` (shaped like the
    kernel) to the base kernel in float32 and skips the branch in `call`;
    unmerging subtracts it again. On a base quantised to int8 by Keras the
    merge dequantises the kernel, adds the update and re-quantises it, and
    returns the relative error that rounding added (see
    `keras_adapters.merge_adapters`); an int4 kernel is never merged into.
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
    quantization_modes = TRAINABLE_MODES

    def __init__(self, base_layer, **kwargs):
        check_base_layer(type(self).__name__, base_layer, self.base_class, self.quantization_modes)
        super().__init__(base_layer, **kwargs)

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

    # === Merge protocol: additive ===

    def merge_variables(self):
        return kernel_variables(self.base_layer)

    def check_merge(self, name):
        super().check_merge(name)
        check_mergeable(self.base_layer, name)

    def merge_adapter(self, name):
        delta = self.kernel_delta(self.get_adapter(name))
        return assign_float_kernel(self.base_layer, float_kernel(self.base_layer) + delta)

    def unmerge_adapter(self, name):
        delta = self.kernel_delta(self.get_adapter(name))
        return assign_float_kernel(self.base_layer, float_kernel(self.base_layer) - delta)

    def add_adapter(self, name, module):
        """Adds a `LoraWeights` module (built here if needed: its shapes are known)."""
        if not module.built:
            module.build()
        super().add_adapter(name, module)
