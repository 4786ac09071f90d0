"""Einsum kernels and LoRA factors as plain matrices `[in features, out features]`.

NumPy references compute `y = x W`, features flattened in the order of the
layer's input and output tensors (as Hugging Face's `Linear` layers do);
these helpers put KerasHub's `EinsumDense` kernels, and LoRA's `A` and `B`,
into that form.
"""

import numpy as np


def as_matrix(kernel, equation=None):
    """An einsum kernel as a matrix `[in features, out features]`.

    Args:
        kernel: the kernel.
        equation: the layer's `input,kernel->output` equation; `None` for a
            `Dense` kernel (already a matrix).
    """
    if equation is None:
        return kernel
    ins, outs, letters = _feature_axes(equation)
    arranged = np.transpose(kernel, [letters.index(a) for a in ins + outs])
    return arranged.reshape(int(np.prod(arranged.shape[: len(ins)])), -1)


def lora_matrices(a, b, equation=None):
    """LoRA's `A` (kernel input axes + rank) and `B` (rank + kernel output axes) as matrices.

    `A` holds the kernel's input axes in the kernel's order, `B` its output
    axes (METHODS.md: "A and B factor the kernel's input and output axes");
    they are flattened in the order of the layer's input and output tensors.
    """
    if equation is None:
        return a, b
    ins, outs, letters = _feature_axes(equation)
    a_letters = [x for x in letters if x in ins]
    b_letters = [x for x in letters if x in outs]
    a = np.transpose(a, [a_letters.index(x) for x in ins] + [len(ins)])
    b = np.transpose(b, [0] + [1 + b_letters.index(x) for x in outs])
    return a.reshape(-1, a.shape[-1]), b.reshape(b.shape[0], -1)


def _feature_axes(equation):
    """(input feature letters in input order, output letters in output order, kernel letters)."""
    inputs, rest = equation.replace(" ", "").split(",")
    letters, output = rest.split("->")
    ins = [x for x in inputs if x in letters and x not in output]
    outs = [x for x in output if x in letters and x not in inputs]
    return ins, outs, letters
