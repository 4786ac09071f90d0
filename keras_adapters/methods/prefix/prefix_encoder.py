"""`PrefixEncoder`: the learned key/value prefixes of one attention layer."""

import keras
from keras import ops

from keras_adapters.core import validation
from keras_adapters.core.serialization import register


@register
class PrefixEncoder(keras.layers.Layer):
    """Produces `P` key vectors and `P` value vectors per head.

    Plain form: two weights, `prefix_keys` `[P, heads, key_dim]` and
    `prefix_values` `[P, heads, value_dim]`. Reparameterised form (Li & Liang
    2021): `prefix_embeddings` `[P, hidden_dim]` passed through a tanh MLP
    (`projection_kernel`/`projection_bias`, `output_kernel`/`output_bias`)
    whose output is split into keys and values. `folded()` returns the plain
    form with exactly the values the MLP currently produces.

    Args:
        num_prefix_tokens: `P`, > 0.
        num_heads: attention heads of the layer.
        key_dim: size of each key head.
        value_dim: size of each value head.
        hidden_dim: width of the prefix embedding table (reparameterised form).
        reparameterize: use the MLP form.
        projection_dim: hidden width of the MLP.
        **kwargs: forwarded to `keras.layers.Layer`.

    Example:
    ```python
    prefix = keras_adapters.layers.PrefixEncoder(
        num_prefix_tokens=4, num_heads=2, key_dim=8, value_dim=8, hidden_dim=16
    )
    prefix.build()
    keys, values = prefix.prefixes()  # each [4, 2, 8]
    ```
    """

    def __init__(
        self,
        num_prefix_tokens,
        num_heads,
        key_dim,
        value_dim,
        hidden_dim,
        reparameterize=False,
        projection_dim=512,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_prefix_tokens = validation.check_positive_int(
            "num_prefix_tokens", num_prefix_tokens
        )
        self.num_heads = validation.check_positive_int("num_heads", num_heads)
        self.key_dim = validation.check_positive_int("key_dim", key_dim)
        self.value_dim = validation.check_positive_int("value_dim", value_dim)
        self.hidden_dim = validation.check_positive_int("hidden_dim", hidden_dim)
        self.reparameterize = bool(reparameterize)
        self.projection_dim = validation.check_positive_int("projection_dim", projection_dim)

    def build(self, input_shape=None):
        p, n = self.num_prefix_tokens, self.num_heads
        if not self.reparameterize:
            self.prefix_keys = self.add_weight(
                shape=(p, n, self.key_dim), initializer="random_normal", name="prefix_keys"
            )
            self.prefix_values = self.add_weight(
                shape=(p, n, self.value_dim), initializer="random_normal", name="prefix_values"
            )
            return
        width = n * (self.key_dim + self.value_dim)
        self.prefix_embeddings = self.add_weight(
            shape=(p, self.hidden_dim), initializer="random_normal", name="prefix_embeddings"
        )
        self.projection_kernel = self.add_weight(
            shape=(self.hidden_dim, self.projection_dim),
            initializer="glorot_uniform",
            name="projection_kernel",
        )
        self.projection_bias = self.add_weight(
            shape=(self.projection_dim,), initializer="zeros", name="projection_bias"
        )
        self.output_kernel = self.add_weight(
            shape=(self.projection_dim, width), initializer="glorot_uniform", name="output_kernel"
        )
        self.output_bias = self.add_weight(shape=(width,), initializer="zeros", name="output_bias")

    def prefixes(self):
        """Returns `(keys [P, heads, key_dim], values [P, heads, value_dim])` in float32."""
        if not self.reparameterize:
            return ops.cast(self.prefix_keys, "float32"), ops.cast(self.prefix_values, "float32")
        hidden = ops.tanh(
            ops.matmul(ops.cast(self.prefix_embeddings, "float32"), self.projection_kernel)
            + self.projection_bias
        )
        flat = ops.matmul(hidden, self.output_kernel) + self.output_bias
        p, n = self.num_prefix_tokens, self.num_heads
        split = n * self.key_dim
        keys = ops.reshape(flat[:, :split], (p, n, self.key_dim))
        values = ops.reshape(flat[:, split:], (p, n, self.value_dim))
        return keys, values

    def folded(self):
        """Returns a plain `PrefixEncoder` holding the current prefixes."""
        config = self.get_config()
        config.update(reparameterize=False)
        plain = PrefixEncoder.from_config(config)
        plain.build()
        keys, values = self.prefixes()
        plain.prefix_keys.assign(keys)
        plain.prefix_values.assign(values)
        return plain

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_prefix_tokens": self.num_prefix_tokens,
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "hidden_dim": self.hidden_dim,
                "reparameterize": self.reparameterize,
                "projection_dim": self.projection_dim,
            }
        )
        return config
