"""A projection's kernel as adapters see it, whether Keras stores it in float or int8/int4.

Keras quantises a `Dense`, `EinsumDense` or `Embedding` in place
(`layer.quantize("int8")`): the float kernel is replaced by an integer one
plus scales, and the layer's call multiplies in integer arithmetic. Wrappers
that add an adapter branch (LoRA, DoRA, IA3) read and write that kernel only
through this module, so they work on a float and on a quantised base alike:

- `quantized_product(layer, inputs)`: `x W` in the layer's own (integer)
  arithmetic, without bias or activation, with Keras' gradient to `inputs`.
- `float_kernel(layer)`: the kernel as float32 (dequantised if quantised).
- `assign_float_kernel(layer, value)`: stores a float32 kernel, re-quantising
  it if the layer is quantised, and returns the error that rounding added.

Merging into an int8 kernel is "dequantise, merge, re-quantise" (per output
channel, as Keras quantises). Merging into an int4 kernel is refused.
"""

import contextlib

import keras
import numpy as np
from keras import ops

# Modes a wrapper accepts under a trainable adapter (the frozen base's call is Keras' own).
TRAINABLE_MODES = ("int8", "int4")
# Modes whose kernel adapters can read as float and write back: merging
# (dequantise, merge, re-quantise) and DoRA's norms.
KERNEL_MODES = ("int8",)


def quantization_mode(layer):
    """The Keras quantisation mode of `layer` (`"int8"`, `"int4"`...), or `None`."""
    return getattr(layer, "quantization_mode", None)


def check_quantization(wrapper_name, layer, modes=TRAINABLE_MODES):
    """Raises a `ValueError` unless `layer` is unquantised or quantised in one of `modes`."""
    mode = quantization_mode(layer)
    if mode is not None and mode not in modes:
        raise ValueError(
            f"{wrapper_name} adapts float layers and layers quantised to {modes}. "
            f"Layer {layer.name!r} is quantised with mode={mode!r}."
        )


def check_mergeable(layer, adapter_name):
    """Raises a `ValueError` if an adapter cannot be merged into `layer`'s kernel."""
    mode = quantization_mode(layer)
    if mode is not None and mode not in KERNEL_MODES:
        raise ValueError(
            f"Cannot merge adapter {adapter_name!r} into layer {layer.name!r}: its kernel is "
            f"quantised with mode={mode!r}, and merging re-quantises only {KERNEL_MODES} "
            "kernels. The adapter stays unmerged (export with adapters='switchable')."
        )


def _kernel_attribute(layer):
    return "embeddings" if isinstance(layer, keras.layers.Embedding) else "kernel"


@contextlib.contextmanager
def _bare(layer):
    """Makes `layer` compute `x W` only: no bias, no activation, for the block.

    Keras applies rematerialisation to activations the same way (swapping the
    attribute for the duration of the call). `object.__setattr__` keeps the
    layer's variable tracking untouched.
    """
    saved = {name: getattr(layer, name) for name in ("bias", "activation")}
    try:
        for name in saved:
            object.__setattr__(layer, name, None)
        yield layer
    finally:
        for name, value in saved.items():
            object.__setattr__(layer, name, value)


def quantized_product(layer, inputs):
    """`x W` of a quantised `Dense`/`EinsumDense`, by the layer's own quantised call.

    Bias and activation are left to the caller, which adds an adapter's
    update before them. The gradient reaches `inputs` (Keras' custom
    gradient through the dequantised kernel) and never the integer kernel.
    """
    with _bare(layer):
        return layer(inputs)


def _int8_kernel_and_scale(layer):
    if isinstance(layer, keras.layers.Embedding):
        return layer._embeddings, layer.embeddings_scale
    return layer._kernel, layer.kernel_scale


def _dequantization_scale(layer, scale):
    """Keras' int8 scale, shaped to divide the integer kernel."""
    if isinstance(layer, keras.layers.Embedding):
        return ops.expand_dims(scale, -1)  # one scale per row (token)
    if isinstance(layer, keras.layers.EinsumDense):
        return layer._adjust_scale_for_dequant(scale)
    return scale  # Dense: one scale per output unit


def kernel_variables(layer):
    """The variables that hold `layer`'s kernel (with its scale when quantised)."""
    mode = quantization_mode(layer)
    if mode is None:
        return [getattr(layer, _kernel_attribute(layer))]
    if mode == "int8":
        return list(_int8_kernel_and_scale(layer))
    raise ValueError(
        f"Reading the kernel of layer {layer.name!r} needs a float or int8 kernel. "
        f"Received: a layer quantised with mode={mode!r}."
    )


def float_kernel(layer):
    """`layer`'s kernel (or embedding table) as a float32 tensor, dequantised if int8."""
    if quantization_mode(layer) is None:
        return ops.cast(getattr(layer, _kernel_attribute(layer)), "float32")
    kernel, scale = kernel_variables(layer)
    scale = _dequantization_scale(layer, ops.convert_to_tensor(scale))
    return ops.cast(kernel, "float32") / ops.cast(scale, "float32")


def _quantize_int8(layer, value):
    """`(int8 kernel, scale in Keras' layout)` of `value`, quantised as Keras does.

    The layer's own weight quantiser (from a `keras.quantizers.QuantizationConfig`
    given to `quantize`) if it has one, else Keras' default: abs-max over the
    axes contracted with the input (per output channel; per row for a table).
    """
    if isinstance(layer, keras.layers.Embedding):
        axis = (-1,)
    elif isinstance(layer, keras.layers.EinsumDense):
        axis = layer._kernel_reduced_axes
    else:
        axis = (0,)
    config = getattr(layer, "quantization_config", None)
    custom = getattr(config, "weight_quantizer", None)
    if custom is not None:
        kernel, scale = custom(value, to_numpy=True)
    else:
        kernel, scale = keras.quantizers.abs_max_quantize(value, axis=axis, to_numpy=True)
    if isinstance(layer, keras.layers.EinsumDense):
        return kernel, layer._adjust_scale_for_quant(scale, "kernel")
    return kernel, np.squeeze(scale, axis=axis)


def assign_float_kernel(layer, value):
    """Stores the float kernel `value` in `layer`, re-quantising an int8 layer.

    Args:
        layer: a `Dense`, `EinsumDense` or `Embedding`, float or int8.
        value: the new kernel, shaped like the float kernel.

    Returns:
        `None` for a float kernel (stored as it is); for a quantised one, the
        relative error the re-quantisation added, `||stored - value|| / ||value||`
        (Frobenius norms of the dequantised and the given kernel, float32).
    """
    value = ops.cast(value, "float32")
    if quantization_mode(layer) is None:
        variable = getattr(layer, _kernel_attribute(layer))
        variable.assign(ops.cast(value, variable.dtype))
        return None
    kernel_variable, scale_variable = kernel_variables(layer)
    kernel, scale = _quantize_int8(layer, value)
    kernel_variable.assign(kernel)
    scale_variable.assign(ops.cast(scale, scale_variable.dtype))
    stored = ops.convert_to_numpy(float_kernel(layer))
    value = ops.convert_to_numpy(value)
    norm = float(np.linalg.norm(value))
    return float(np.linalg.norm(stored - value) / norm) if norm else 0.0
