"""Low-rank factorisation of an `EinsumDense` kernel, derived from its equation.

Also how tensors over some of an equation's axes (per-feature scales and
norms) line up with its inputs, kernel and outputs.
"""

import dataclasses
import string

from keras import ops

# A `Dense` kernel is the `EinsumDense` kernel of this equation.
DENSE_EQUATION = "...i,io->...o"


@dataclasses.dataclass(frozen=True)
class EinsumFactorization:
    """How LoRA's `A` and `B` factor a kernel whose axes an equation names.

    For `abc,cde->abde` (a query projection): the kernel axis `c` is read
    from the input and `d`, `e` are written to the output, so `A` is `[c, r]`,
    `B` is `[r, d, e]`, the update is `einsum("abc,cr->abr")` then
    `einsum("abr,rde->abde")`, and the merged delta is `einsum("cr,rde->cde")`.

    Attributes:
        input_equation: input x `A` -> low-rank activations.
        output_equation: low-rank activations x `B` -> output.
        merge_equation: `A` x `B` -> a tensor shaped like the kernel.
        input_axes: kernel axes contracted with the input (the axes of `A`).
        output_axes: kernel axes that reach the output (the axes of `B`).
    """

    input_equation: str
    output_equation: str
    merge_equation: str
    input_axes: tuple
    output_axes: tuple

    def for_input_rank(self, input_rank):
        """The same factorisation with `...` spelled out for inputs of `input_rank` axes.

        TensorFlow's einsum with an ellipsis is an order of magnitude slower
        (forward and backward) than the same contraction with named axes.
        """
        if "..." not in self.input_equation:
            return self
        inputs = self.input_equation.split(",")[0]
        used = set(self.input_equation + self.output_equation + self.merge_equation)
        free = [c for c in string.ascii_letters if c not in used]
        named = "".join(free[: input_rank - len(inputs.replace("...", ""))])
        return dataclasses.replace(
            self,
            input_equation=self.input_equation.replace("...", named),
            output_equation=self.output_equation.replace("...", named),
        )

    def flat_batch_rank(self):
        """How many leading input axes the update may flatten into one, or `None`.

        When the input is its batch axes followed by `A`'s input axes (in
        `A`'s order) and the output is the same batch axes followed by `B`'s
        axes (in `B`'s order), as for `abc,cde->abde`, `abcd,cde->abe` and
        `Dense`, the two einsums are two matmuls on the input flattened to
        `[batch, features]`. Their gradients with respect to `A` and `B` are
        then one matmul each over every token, instead of one per batch row
        summed afterwards. Call it on a factorisation without an ellipsis
        (see `for_input_rank`).
        """
        lhs, hidden = self.input_equation.split("->")
        inputs, a_axes = lhs.split(",")
        b_axes, outputs = self.output_equation.split(",")[1].split("->")
        batch = hidden[:-1]
        if "." in inputs or not batch:
            return None
        if inputs == batch + a_axes[:-1] and outputs == batch + b_axes[1:]:
            return len(batch)
        return None

    def factor_shapes(self, kernel_equation_axes, kernel_shape, rank):
        """Returns the shapes of `A` and `B` for a kernel of `kernel_shape`."""
        size = dict(zip(kernel_equation_axes, kernel_shape))
        a_shape = tuple(size[axis] for axis in self.input_axes) + (rank,)
        b_shape = (rank,) + tuple(size[axis] for axis in self.output_axes)
        return a_shape, b_shape


def factorize_einsum(equation, method="LoRA"):
    """Derives the LoRA equations for an `EinsumDense` equation.

    Every kernel axis must be either contracted with the input (and absent
    from the output) or passed to the output (and absent from the input);
    anything else is not a linear map that a rank-`r` product can factor.
    IA3 and DoRA use the same split of the kernel axes: per-feature scales
    and norms run over `input_axes` or `output_axes`.

    Args:
        equation: the layer's equation, e.g. `"btd,ndh->btnh"`.
        method: the method named in the error for an equation that does not
            split.

    Returns:
        An `EinsumFactorization`.

    Example:
    ```python
    f = keras_adapters.layers.factorize_einsum("abcd,cde->abe")
    f.input_equation  # "abcd,cdr->abr"
    ```
    """
    try:
        lhs, out = equation.replace(" ", "").split("->")
        inputs, kernel = lhs.split(",")
    except ValueError:
        raise ValueError(
            f"`equation` must look like 'input,kernel->output'. Received: equation={equation!r}"
        ) from None
    if "." in kernel:
        raise ValueError(
            f"The kernel part of `equation` cannot use an ellipsis. Received: equation={equation!r}"
        )
    in_letters, out_letters = set(inputs.replace(".", "")), set(out.replace(".", ""))
    input_axes = tuple(a for a in kernel if a in in_letters and a not in out_letters)
    output_axes = tuple(a for a in kernel if a in out_letters and a not in in_letters)
    others = [a for a in kernel if a not in input_axes and a not in output_axes]
    if others or not input_axes or not output_axes:
        raise ValueError(
            f"{method} needs every kernel axis to be either contracted with the input or "
            "written to the output, with at least one of each. "
            f"Kernel axes {others or list(kernel)} do not fit. Received: equation={equation!r}"
        )
    free = [c for c in string.ascii_letters if c not in equation]
    rank_axis = "r" if "r" not in equation else free[0]
    hidden = "".join(a for a in inputs if a not in input_axes) + rank_axis
    a_axes, b_axes = "".join(input_axes), "".join(output_axes)
    return EinsumFactorization(
        input_equation=f"{inputs},{a_axes}{rank_axis}->{hidden}",
        output_equation=f"{hidden},{rank_axis}{b_axes}->{out}",
        merge_equation=f"{a_axes}{rank_axis},{rank_axis}{b_axes}->{kernel}",
        input_axes=input_axes,
        output_axes=output_axes,
    )


def kernel_axes(equation):
    """The kernel's axis letters in `equation`."""
    return equation.replace(" ", "").split("->")[0].split(",")[1]


def equation_operands(equation):
    """`(inputs, kernel, outputs)` subscripts of an `"inputs,kernel->outputs"` equation."""
    lhs, outputs = equation.replace(" ", "").split("->")
    inputs, kernel = lhs.split(",")
    return inputs, kernel, outputs


def axes_alignment(axes, subscripts):
    """How a tensor over `axes` lines up with a tensor whose axes are `subscripts`.

    Args:
        axes: letters naming the axes of the smaller tensor, in its order.
        subscripts: one operand of an einsum equation, e.g. `"abde"` or
            `"...o"`; every letter of `axes` must appear after any ellipsis.

    Returns:
        `(order, trailing)`: transposing the smaller tensor by `order` puts
        its axes in the order `subscripts` lists them; reshaped to one entry
        per letter of `trailing` (the letters of `subscripts` from the first
        of `axes` on; the axis size for a letter of `axes`, else 1), it
        broadcasts against the other tensor.
    """
    head, ellipsis, letters = subscripts.replace(" ", "").rpartition("...")
    misplaced = [a for a in axes if a not in letters]
    if misplaced or not axes:
        raise ValueError(
            f"Axes {axes!r} must all appear in {subscripts!r}, after any ellipsis. "
            f"Received: axes={axes!r}, subscripts={subscripts!r}"
        )
    first = min(letters.index(a) for a in axes)
    order = tuple(sorted(range(len(axes)), key=lambda i: letters.index(axes[i])))
    return order, letters[first:]


def align_axes(tensor, axes, subscripts):
    """`tensor` (one axis per letter of `axes`) shaped to broadcast against `subscripts`.

    Example:
    ```python
    scale = np.ones((4, 8), "float32")  # per head and head dim of "abc,cde->abde"
    keras_adapters.layers.align_axes(scale, "de", "cde").shape  # (4, 8): kernel
    keras_adapters.layers.align_axes(scale, "de", "abde").shape  # (4, 8): outputs
    keras_adapters.layers.align_axes(scale, "nh", "ndh").shape  # (4, 1, 8)
    ```
    """
    order, trailing = axes_alignment(axes, subscripts)
    size = dict(zip(axes, tensor.shape))
    if order != tuple(range(len(axes))):
        tensor = ops.transpose(tensor, order)
    return ops.reshape(tensor, [size[letter] if letter in axes else 1 for letter in trailing])
