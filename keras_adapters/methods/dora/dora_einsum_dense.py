"""`DoraEinsumDense`: DoRA on `keras.layers.EinsumDense`."""

import keras
import numpy as np
from keras import ops

from keras_adapters.core.mergeable_wrapper import MergeableWrapper
from keras_adapters.core.serialization import register
from keras_adapters.core.tracking import unlocked
from keras_adapters.methods.dora.dora_weights import DoraWeights
from keras_adapters.methods.lora.einsum_factorization import (
    align_axes,
    equation_operands,
    factorize_einsum,
)
from keras_adapters.methods.lora.lora_wrapper import check_base_layer
from keras_adapters.methods.lora.quantized_kernel import (
    KERNEL_MODES,
    assign_float_kernel,
    float_kernel,
    kernel_variables,
    quantization_mode,
    quantized_product,
)

MERGE_NORM_PREFIX = "merge_norm_"


@register
class DoraEinsumDense(MergeableWrapper):
    """DoRA on a `keras.layers.EinsumDense`, for any equation LoRA can factor.

    With `V = W + s A B` (LoRA's update, factored as
    `keras_adapters.layers.factorize_einsum` says) and `n = ||V||`, the norm
    over the kernel's input axes for each combination of its output axes, the
    adapted kernel is `W' = m * V / n`. The forward pass never builds `W'`:

        y = act(r * (x W + s (x A) B) + b),   r = m / n

    `n` needs `V`, but it is a constant in the backward pass (as in peft and
    the paper), so gradients only flow through the cheap low-rank product and
    `m`. With dropout in training, as in peft:
    `y = act(x W + b + (r - 1) * (x' W) + r * s (x' A) B)`, `x'` the dropped
    input. A column with `n = 0` is divided by 1 instead.

    Several active adapters compose in order, each on the kernel the previous
    ones produced (`W_k = m_k * (W_{k-1} + s_k A_k B_k) / ||...||`), which is
    what merging them one after the other gives.

    Merging writes `W'` into the kernel and keeps `n` in a non-trainable
    float32 variable beside the adapter's weights (`.../merge_norm`, saved
    in `.keras` files, not in adapter files); unmerging restores
    `W = W' * n / m - s A B`, exact to float rounding. A magnitude with a
    zero entry cannot be merged.

    On a base quantised to int8 by Keras, `x W` is the base's own quantised
    call, the norms use the dequantised kernel, and merging re-quantises
    (returning the error, see `keras_adapters.merge_adapters`). An int4 base
    is refused: its kernel is not read back as float here.

    Args:
        base_layer: the `keras.layers.EinsumDense` to adapt.
        adapters: dict of name to `keras_adapters.layers.DoraWeights`.
        active_adapters: names used in `call`; defaults to all.
        merged_adapters: names already merged into the kernel.
        location: key of the site in adapter files.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    base = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")
    base.build((None, None, 16))
    layer = keras_adapters.layers.DoraEinsumDense(base)
    a_shape, b_shape = layer.dora_shapes(rank=2)  # (16, 2), (2, 4, 8)
    layer.add_adapter("a", keras_adapters.layers.DoraWeights(2, a_shape, b_shape))
    ```

    References:
        - [Liu et al., 2024](https://arxiv.org/abs/2402.09353)
    """

    base_class = keras.layers.EinsumDense
    quantization_modes = KERNEL_MODES

    def __init__(self, base_layer, **kwargs):
        self.check_base(base_layer)
        super().__init__(base_layer, **kwargs)

    # === The base layer, as DoRA sees it ===

    @staticmethod
    def _equation(base_layer):
        if not isinstance(base_layer, keras.layers.EinsumDense):
            raise ValueError(
                f"DoraEinsumDense wraps a `keras.layers.EinsumDense`. Received: base_layer={base_layer!r}"
            )
        return base_layer.equation

    @classmethod
    def check_base(cls, base_layer):
        """Raises a `ValueError` unless DoRA can adapt `base_layer`."""
        check_base_layer(cls.__name__, base_layer, cls.base_class, cls.quantization_modes)
        factorize_einsum(cls._equation(base_layer), method="DoRA")

    @property
    def equation(self):
        return self._equation(self.base_layer)

    @property
    def factorization(self):
        return factorize_einsum(self.equation, method="DoRA")

    @property
    def kernel(self):
        return self.base_layer.kernel

    @classmethod
    def dora_shapes_for(cls, base_layer, rank):
        """Returns `(a_shape, b_shape)` of a rank-`rank` adapter on `base_layer`."""
        equation = cls._equation(base_layer)
        _, kernel, _ = equation_operands(equation)
        return factorize_einsum(equation, method="DoRA").factor_shapes(
            kernel, base_layer.kernel.shape, rank
        )

    def dora_shapes(self, rank):
        """Returns `(a_shape, b_shape)` for an adapter of this rank on this layer."""
        return self.dora_shapes_for(self.base_layer, rank)

    @classmethod
    def column_norms_for(cls, base_layer, kernel=None):
        """`||kernel||` over the input axes, shaped like the magnitude (float32).

        Args:
            base_layer: the layer whose equation names the axes.
            kernel: a tensor shaped like its kernel; defaults to the kernel.
        """
        equation = cls._equation(base_layer)
        _, axes, _ = equation_operands(equation)
        input_axes = factorize_einsum(equation, method="DoRA").input_axes
        kernel = float_kernel(base_layer) if kernel is None else ops.cast(kernel, "float32")
        reduced = tuple(axes.index(axis) for axis in input_axes)
        return ops.sqrt(ops.sum(ops.square(kernel), axis=reduced))

    def _ratio(self, module, direction):
        """`(m / n, n)` for the direction `V` (float32), with `n = 0` replaced by 1."""
        norm = self.column_norms_for(self.base_layer, direction)
        norm = ops.where(norm > 0, norm, ops.ones_like(norm))
        return ops.cast(module.magnitude, "float32") / norm, norm

    # === Adapters ===

    def add_adapter(self, name, module):
        """Adds a `DoraWeights` module; one not built yet is built here and starts as the identity."""
        if not isinstance(module, DoraWeights):
            raise ValueError(
                f"{type(self).__name__} holds `keras_adapters.layers.DoraWeights` modules. "
                f"Received: module={module!r}"
            )
        expected = self.dora_shapes(module.rank)
        if (module.a_shape, module.b_shape) != expected:
            raise ValueError(
                f"A rank-{module.rank} DoRA adapter on layer {self.base_layer.name!r} has "
                f"`a_shape`, `b_shape` = {expected}. Received: a_shape={module.a_shape}, "
                f"b_shape={module.b_shape}"
            )
        if not module.built:
            module.build()
            if self.base_layer.built:
                module.magnitude.assign(self.column_norms_for(self.base_layer))
        super().add_adapter(name, module)
        # The norm a merge divides by, beside the adapter's weights (an absolute
        # path: `add_adapter` may run inside another name scope).
        parent, _, scope = module.magnitude.path.rpartition("/")[0].rpartition("/")
        with keras.name_scope(scope, override_parent=parent):
            merge_norm = keras.Variable(
                initializer="ones",
                shape=module.magnitude_shape,
                dtype="float32",
                trainable=False,
                name="merge_norm",
            )
        with unlocked(self):
            setattr(self, MERGE_NORM_PREFIX + name, merge_norm)

    def remove_adapter(self, name):
        module = super().remove_adapter(name)
        merge_norm = getattr(self, MERGE_NORM_PREFIX + name)
        self._tracker.untrack(merge_norm)
        object.__delattr__(self, MERGE_NORM_PREFIX + name)
        return module

    def _product(self, inputs):
        """`x W`, without bias (the base's quantised call if it is quantised)."""
        if quantization_mode(self.base_layer) is None:
            return self._float_product(inputs)
        return quantized_product(self.base_layer, inputs)

    def _float_product(self, inputs):
        return ops.einsum(self.equation, inputs, self.kernel)

    def _through(self, inputs, applied, factorization):
        """`inputs W_k` for the kernel `W_k` the adapters in `applied` make of `W`."""
        outputs = self._product(inputs)
        for module, ratio in applied:
            outputs = ratio * (outputs + module.low_rank_update(inputs, factorization))
        return outputs

    def call(self, inputs, training=None):
        modules = self.pending_modules()
        if not modules:
            return self.base_layer(inputs)
        factorization = self.factorization
        spelled = factorization.for_input_rank(len(inputs.shape))
        _, _, output_axes = equation_operands(self.equation)
        kernel = float_kernel(self.base_layer)  # W, then W_1, W_2...: for the norms only
        outputs = self._product(inputs)
        applied = []
        for module in modules:
            direction = ops.stop_gradient(kernel + self._direction_delta(module))
            ratio, _ = self._ratio(module, direction)
            scale = align_axes(ratio, factorization.output_axes, output_axes)
            scale = ops.cast(scale, outputs.dtype)
            dropped = module(inputs, training=training)
            update = module.low_rank_update(dropped, spelled)
            if module.dropout and training:  # peft: the dropped input in the rescaling too
                base = self._through(dropped, applied, spelled)
                outputs = outputs + (scale - 1) * base + scale * update
            else:
                outputs = scale * (outputs + update)
            applied.append((module, scale))
            kernel = self._kernel_scale(ratio) * direction
        if self.base_layer.bias is not None:
            outputs = outputs + self.base_layer.bias
        activation = self.base_layer.activation
        return activation(outputs) if activation is not None else outputs

    def prepare_base_quantization(self):
        """Rescales every magnitude by how much quantising the base changes its column norms.

        So an adapter keeps its effect relative to the base: one at its
        initial value (`m = ||W||`) stays the identity on the quantised base.
        """
        before = self.column_norms_for(self.base_layer)

        def rescale():
            after = self.column_norms_for(self.base_layer)
            ratio = ops.where(before > 0, after / ops.where(before > 0, before, 1.0), 1.0)
            for module in self.adapter_modules():
                module.magnitude.assign(ops.cast(module.magnitude, "float32") * ratio)

        return rescale

    # === Merge protocol: W' = m V / ||V|| ===

    def merge_variables(self):
        norms = [getattr(self, MERGE_NORM_PREFIX + n) for n in self.adapter_names]
        return kernel_variables(self.base_layer) + norms

    def _direction_delta(self, module):
        return module.merged_delta(self.factorization.merge_equation)

    def _kernel_scale(self, ratio):
        _, kernel_axes, _ = equation_operands(self.equation)
        return align_axes(ratio, self.factorization.output_axes, kernel_axes)

    def merge_adapter(self, name):
        module = self.get_adapter(name)
        if np.any(ops.convert_to_numpy(module.magnitude) == 0):
            raise ValueError(
                f"Adapter {name!r} has a zero magnitude entry on {self.base_layer.name!r}, so "
                "a merge could not be undone; it stays unmerged. Call "
                "`keras_adapters.unmerge_adapters(model)` to undo the merges already done."
            )
        direction = float_kernel(self.base_layer) + self._direction_delta(module)
        ratio, norm = self._ratio(module, direction)
        getattr(self, MERGE_NORM_PREFIX + name).assign(norm)
        return assign_float_kernel(self.base_layer, self._kernel_scale(ratio) * direction)

    def unmerge_adapter(self, name):
        module = self.get_adapter(name)
        norm = getattr(self, MERGE_NORM_PREFIX + name)
        ratio = ops.cast(module.magnitude, "float32") / ops.convert_to_tensor(norm)
        direction = float_kernel(self.base_layer) / self._kernel_scale(ratio)
        return assign_float_kernel(self.base_layer, direction - self._direction_delta(module))
