"""Projection layers of KerasHub's text models, with their axes spelled out by hand.

Each case names the kernel axes contracted with the input (`in_axes`) and
those written to the output (`out_axes`) independently of
`keras_adapters.layers.factorize_einsum`, so NumPy references built from
them check the library's derivation instead of repeating it.
"""

import dataclasses

import keras
import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    equation: str
    x_shape: tuple
    output_shape: tuple = None
    bias_axes: str = None
    in_axes: str = "i"
    out_axes: str = "o"
    activation: str = None
    units: int = None

    @property
    def operands(self):
        lhs, outputs = self.equation.split("->")
        inputs, kernel = lhs.split(",")
        return inputs, kernel, outputs

    def layer(self, seed=7, **kwargs):
        """The built base layer, seeded (random bias, so scaling it shows)."""
        kwargs.setdefault("kernel_initializer", keras.initializers.GlorotUniform(seed=seed))
        if self.units is not None:
            layer = keras.layers.Dense(self.units, activation=self.activation, **kwargs)
        else:
            layer = keras.layers.EinsumDense(
                self.equation,
                output_shape=self.output_shape,
                bias_axes=self.bias_axes,
                activation=self.activation,
                **kwargs,
            )
        layer.build(self.x_shape)
        if layer.bias is not None:
            rng = np.random.default_rng(seed)
            layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))
        return layer

    def x(self, seed=0):
        return np.random.default_rng(seed).normal(size=self.x_shape).astype("float32")

    def sizes(self, layer):
        _, kernel, _ = self.operands
        return dict(zip(kernel, layer.kernel.shape))

    def forward(self, x, kernel, bias=None, activation=None):
        """`act(einsum(x, kernel) + bias)` in NumPy."""
        out = np.einsum(self.equation, x, kernel)
        if bias is not None:
            out = out + bias
        return activation(out) if activation is not None else out

    def scale(self, tensor, subscripts, vector, axes):
        """`tensor` (axes `subscripts`) times `vector` (axes `axes`), by NumPy's einsum."""
        return np.einsum(f"{subscripts},{axes}->{subscripts}", tensor, vector)


CASES = {
    "dense": Case("...i,io->...o", (2, 5, 6), units=7),
    "mha_qkv": Case("abc,cde->abde", (2, 5, 6), (None, 3, 4), "de", "c", "de"),
    "mha_output": Case("abcd,cde->abe", (2, 5, 3, 4), (None, 6), "e", "cd", "e"),
    "llama_query": Case("bqm,muh->bquh", (2, 5, 6), (None, 3, 4), None, "m", "uh"),
    "gemma_query": Case("btd,ndh->btnh", (2, 5, 6), (None, 3, 4), None, "d", "nh"),
}
