"""`BankedLoraProjection`: a projection whose LoRA factors are chosen per example from a bank."""

import keras
from keras import ops

from keras_adapters.methods.lora.einsum_factorization import DENSE_EQUATION, factorize_einsum


def batched_lora_equations(equation, input_rank):
    """The LoRA products of `equation` with one factor pair per example.

    `factorize_einsum` gives `x A -> h`, `h B -> y` for one `A`, `B`; a bank
    gathers `A[slots]` `[batch, inputs..., r]` and `B[slots]` `[batch, r, outputs...]`,
    so both factors gain the input's batch letter in front:
    `"abc,cde->abde"` gives `"abc,acr->abr"` and `"abr,arde->abde"`.

    Args:
        equation: the layer's einsum equation (`Dense`: `"...i,io->...o"`).
        input_rank: rank of the layer's input, batch axis first.

    Returns:
        `(input_equation, output_equation)`.
    """
    factorization = factorize_einsum(equation).for_input_rank(input_rank)
    lhs, hidden = factorization.input_equation.split("->")
    inputs, a_axes = lhs.split(",")
    lhs, outputs = factorization.output_equation.split("->")
    b_axes = lhs.split(",")[1]
    batch = inputs[0]
    if batch in a_axes or batch in b_axes or not hidden.startswith(batch) or batch not in outputs:
        raise ValueError(
            "An adapter bank needs the layer's first input axis to be the batch axis, passed "
            f"to the output and absent from the kernel. Received: equation={equation!r}"
        )
    return f"{inputs},{batch}{a_axes}->{hidden}", f"{hidden},{batch}{b_axes}->{outputs}"


class SlotSelection:
    """Which bank slot each example of the batch being traced uses.

    The serving function sets `slots` (int32 `[batch]`) around its call of
    the model; every `BankedLoraProjection` sharing this object reads it.
    """

    def __init__(self):
        self.slots = None


class BankedLoraProjection(keras.layers.Layer):
    """`y = act(x W + b + (x A[s]) B[s])`, `s` the bank slot of each example.

    Stands in for a `keras.layers.Dense` or `keras.layers.EinsumDense` while
    an adapter bank's serving graph is traced. `A` `[slots, inputs..., r]`
    and `B` `[slots, r, outputs...]` hold every adapter's factors (slot 0 and
    padding are zeros, the scale is folded into `B`); each example gathers
    its own pair and one batched einsum per factor computes every example's
    update at once.

    Args:
        base_layer: the `Dense` or `EinsumDense` whose kernel and bias it uses.
        lora_a: the `A` bank, a float32 `tf.Variable`.
        lora_b: the `B` bank, a float32 `tf.Variable`.
        selection: the `SlotSelection` giving the slots while tracing.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def __init__(self, base_layer, lora_a, lora_b, selection, **kwargs):
        kwargs.setdefault("dtype", base_layer.dtype_policy)
        kwargs.setdefault("name", f"{base_layer.name}_banked")
        super().__init__(**kwargs)
        self.base_layer = base_layer
        self.equation = layer_equation(base_layer)
        self.lora_a, self.lora_b = lora_a, lora_b
        self.selection = selection
        self.supports_masking = getattr(base_layer, "supports_masking", False)
        self.built = True

    def call(self, inputs):
        slots = self.selection.slots
        if slots is None:
            raise RuntimeError(
                f"{self.name} runs only inside an adapter bank's serving function, which "
                "chooses each example's slot."
            )
        base = self.base_layer
        outputs = (
            ops.einsum(base.equation, inputs, base.kernel)
            if self.equation != DENSE_EQUATION
            else ops.matmul(inputs, base.kernel)
        )
        if base.bias is not None:
            outputs = outputs + base.bias
        input_equation, output_equation = batched_lora_equations(self.equation, len(inputs.shape))
        a = ops.cast(ops.take(self.lora_a, slots, axis=0), inputs.dtype)
        b = ops.cast(ops.take(self.lora_b, slots, axis=0), outputs.dtype)
        outputs = outputs + ops.einsum(output_equation, ops.einsum(input_equation, inputs, a), b)
        return base.activation(outputs) if base.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return self.base_layer.compute_output_shape(input_shape)


def layer_equation(layer):
    """The einsum equation of a bankable projection; a clear error for any other layer."""
    if getattr(layer, "quantization_mode", None) or getattr(layer, "lora_enabled", False):
        raise ValueError(
            f"Layer {layer.path!r} is quantized or has Keras' built-in LoRA; an adapter bank "
            "needs its plain float kernel."
        )
    if isinstance(layer, keras.layers.EinsumDense):
        return layer.equation
    if isinstance(layer, keras.layers.Dense):
        return DENSE_EQUATION
    raise ValueError(
        "Adapter banks adapt keras.layers.Dense and keras.layers.EinsumDense layers. "
        f"Layer {layer.path!r} is a {type(layer).__name__}."
    )
