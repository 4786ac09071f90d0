"""`IA3EinsumDense`: IA3 scaling on `keras.layers.EinsumDense`."""

import keras
import numpy as np
from keras import ops

from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.core.serialization import register
from keras_adapters.methods.ia3.ia3_vector import IA3Vector
from keras_adapters.methods.lora.einsum_factorization import (
    align_axes,
    axes_alignment,
    equation_operands,
    factorize_einsum,
)
from keras_adapters.methods.lora.lora_wrapper import check_base_layer
from keras_adapters.methods.lora.quantized_kernel import (
    TRAINABLE_MODES,
    assign_float_kernel,
    check_mergeable,
    float_kernel,
    kernel_variables,
)
from keras_adapters.planning.layer_tree import innermost


@register
class IA3EinsumDense(MergeableWrapper):
    """IA3 on a `keras.layers.EinsumDense`: `y = base(x) * l`, or `base(x * l)`.

    The scaled axes come from the equation the way
    `keras_adapters.layers.factorize_einsum` splits the kernel: `l` runs over
    the kernel axes written to the output (for `abc,cde->abde`, a key or
    value projection: `[heads, head_dim]`), or over the axes contracted with
    the input for a feedforward target. Several active adapters multiply.

    Merging is multiplicative and exact to float rounding: `W <- W * l` over
    the output axes and `b <- b * l` (output scaling), or `W <- W * l` over the
    input axes with the bias unchanged (input scaling); unmerging divides.

    On a base quantised by Keras (`int8`, `int4`) the scaling wraps the
    base's own quantised call; merging into int8 re-quantises the kernel
    (returning the error, see `keras_adapters.merge_adapters`), and an int4
    kernel is never merged into.

    Output scaling needs a layer without a nonlinear activation inside (else
    `act(z) * l` is no kernel) and a bias over every scaled axis; a vector
    with a zero entry cannot be merged (unmerging would divide by zero).

    Args:
        base_layer: the `keras.layers.EinsumDense` to adapt.
        adapters: dict of name to `keras_adapters.layers.IA3Vector`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")
    base.build((None, None, 16))
    layer = keras_adapters.layers.IA3EinsumDense(base)
    shape = layer.scale_shape(feedforward=False)  # (4, 8)
    layer.add_adapter("a", keras_adapters.layers.IA3Vector(shape))
    ```

    References:
        - [Liu et al., 2022](https://arxiv.org/abs/2205.05638)
    """

    base_class = keras.layers.EinsumDense
    quantization_modes = TRAINABLE_MODES

    def __init__(self, base_layer, **kwargs):
        check_base_layer(type(self).__name__, base_layer, self.base_class)
        super().__init__(base_layer, **kwargs)

    # === The base layer, as IA3 sees it ===

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.EinsumDense):
            raise ValueError(
                f"IA3EinsumDense wraps a `keras.layers.EinsumDense`. Received: base_layer={base_layer!r}"
            )
        return base_layer.equation

    @staticmethod
    def _bias_axes(base_layer):
        return base_layer.bias_axes or ""

    @classmethod
    def _scaled(cls, base_layer, feedforward):
        """`(axes, subscripts)`: the kernel axes `l` runs over, and the operand it scales."""
        equation = cls._equation(base_layer)
        factorization = factorize_einsum(equation, method="IA3")
        inputs, _, outputs = equation_operands(equation)
        if feedforward:
            return "".join(factorization.input_axes), inputs
        return "".join(factorization.output_axes), outputs

    @classmethod
    def check_scalable(cls, base_layer, feedforward):
        """Raises a `ValueError` saying why IA3 cannot scale `base_layer` this way."""
        check_base_layer(cls.__name__, base_layer, cls.base_class)
        axes, subscripts = cls._scaled(base_layer, feedforward)
        axes_alignment(axes, subscripts)
        if feedforward:
            return
        activation = base_layer.activation
        if activation is not None and activation is not keras.activations.linear:
            name = getattr(activation, "__name__", repr(activation))
            raise ValueError(
                f"Layer {base_layer.name!r} applies the activation {name!r} inside, so scaling "
                "its output cannot be merged into its kernel. Make it a feedforward target (its "
                "input is scaled) or exclude it."
            )
        bias_axes = cls._bias_axes(base_layer)
        if base_layer.bias is not None and not set(axes) <= set(bias_axes):
            raise ValueError(
                f"The bias of layer {base_layer.name!r} runs over the output axes "
                f"{bias_axes!r}, not over every scaled output axis {axes!r}, so it cannot take "
                "the merged scale. Exclude the layer or make it a feedforward target."
            )

    @classmethod
    def scale_shape_for(cls, base_layer, feedforward):
        """The shape of `l` on `base_layer` (input axes if `feedforward`, else output axes)."""
        axes, _ = cls._scaled(base_layer, feedforward)
        _, kernel, _ = equation_operands(cls._equation(base_layer))
        size = dict(zip(kernel, base_layer.kernel.shape))
        return tuple(size[axis] for axis in axes)

    def scale_shape(self, feedforward):
        """The shape of `l` on this layer."""
        return self.scale_shape_for(self.base_layer, feedforward)

    # === Adapters ===

    def add_adapter(self, name, module):
        """Adds an `IA3Vector` (built here if needed) after checking it fits."""
        if not isinstance(module, IA3Vector):
            raise ValueError(
                f"{type(self).__name__} holds `keras_adapters.layers.IA3Vector` modules. "
                f"Received: module={module!r}"
            )
        self.check_scalable(self.base_layer, module.feedforward)
        expected = self.scale_shape(module.feedforward)
        if module.scale_shape != expected:
            raise ValueError(
                f"`scale_shape` must be {expected} on layer {self.base_layer.name!r} "
                f"(feedforward={module.feedforward}). Received: scale_shape={module.scale_shape}"
            )
        if not module.built:
            module.build()
        super().add_adapter(name, module)

    def _aligned(self, module, dtype):
        """`l`, shaped to broadcast against the tensor it scales."""
        axes, subscripts = self._scaled(innermost(self.base_layer), module.feedforward)
        return ops.cast(align_axes(module.ia3_l, axes, subscripts), dtype)

    def call(self, inputs, training=None):
        modules = self.pending_modules()
        if not modules:
            return self.base_layer(inputs)
        for module in modules:
            if module.feedforward:
                inputs = inputs * self._aligned(module, inputs.dtype)
        outputs = self.base_layer(inputs)
        for module in modules:
            if not module.feedforward:
                outputs = outputs * self._aligned(module, outputs.dtype)
        return outputs

    # === Merge protocol: multiplicative ===

    def _merge_target(self):
        base = self.base_layer
        if not isinstance(base, self.base_class):
            raise ValueError(
                f"Cannot merge IA3 into {self.name!r}: its base layer is a "
                f"{type(base).__name__} (another adapter wrapper), not a "
                f"`{self.base_class.__name__}` whose kernel IA3 can scale."
            )
        return base

    def merge_variables(self):
        base = self._merge_target()
        return kernel_variables(base) + ([base.bias] if base.bias is not None else [])

    def check_merge(self, name):
        super().check_merge(name)
        check_mergeable(self._merge_target(), name)

    def _kernel_and_bias_scales(self, module):
        base = self._merge_target()
        scale = ops.cast(module.ia3_l, "float32")
        axes, _ = self._scaled(base, module.feedforward)
        _, kernel, outputs = equation_operands(self._equation(base))
        kernel_scale = align_axes(scale, axes, kernel)
        if module.feedforward or base.bias is None:
            return base, kernel_scale, None
        letters = outputs.rpartition("...")[2]
        bias_axes = self._bias_axes(base)
        first = min(letters.index(axis) for axis in bias_axes)
        return base, kernel_scale, align_axes(scale, axes, letters[first:])

    def merge_adapter(self, name):
        module = self.get_adapter(name)
        if np.any(ops.convert_to_numpy(module.ia3_l) == 0):
            raise ValueError(
                f"Adapter {name!r} scales some features of {self.base_layer.name!r} by 0, which "
                "a merge could not undo; it stays unmerged. Call "
                "`keras_adapters.unmerge_adapters(model)` to undo the merges already done."
            )
        base, kernel_scale, bias_scale = self._kernel_and_bias_scales(module)
        if bias_scale is not None:
            base.bias.assign(ops.cast(base.bias, "float32") * bias_scale)
        return assign_float_kernel(base, float_kernel(base) * kernel_scale)

    def unmerge_adapter(self, name):
        base, kernel_scale, bias_scale = self._kernel_and_bias_scales(self.get_adapter(name))
        if bias_scale is not None:
            base.bias.assign(ops.cast(base.bias, "float32") / bias_scale)
        return assign_float_kernel(base, float_kernel(base) / kernel_scale)
