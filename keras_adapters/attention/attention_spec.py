"""`AttentionSpec`: how adapters reach inside one attention layer class."""

import contextlib
import dataclasses
import inspect

import keras
from keras import ops


@dataclasses.dataclass(frozen=True)
class AttentionSpec:
    """Declarative description of one attention layer class.

    Every KerasHub attention layer, Keras' `MultiHeadAttention` included,
    projects queries, keys and values (with rotary embeddings and the
    key/value cache where the model has them) and then hands them, with the
    attention mask, to one method (`_compute_attention`). That method is
    where prefix tuning adds its learned keys and values: after rotary
    embeddings (prefixes have no position), after the cache (prefixes sit
    ahead of every cached token), before the softmax. An `AttentionSpec`
    names that method and its arguments, and says how many heads the keys
    have there, so one wrapper (`keras_adapters.layers.PrefixAttention`)
    serves every registered class without copying any of their `call`s.

    Args:
        attention_class: the attention layer class (subclasses match too).
        kv_shape: function `layer -> (heads, key_dim, value_dim)` of the
            layer's own key and value projections (the key/value heads under
            grouped-query attention).
        kv_repeats: function `layer -> int`: how many times each key/value
            head is repeated in the keys `attend` receives (query heads / kv
            heads for layers that repeat before attending, else 1).
        attend: name of the method receiving projected queries, keys
            `[batch, keys, heads, dim]`, values and the mask
            `[batch, queries, keys]` (or `None`).
        arguments: names of `attend`'s query, key, value and mask parameters.
        causal_argument: name of a bool parameter of `attend` asking it to
            build a causal mask itself (Keras' `use_causal_mask`), or `None`.
        prepare: optional function `(layer, mask, arguments) -> (mask,
            overrides)` run before prefixes are added: it may rewrite the
            mask of the real keys (e.g. apply a sliding window that `attend`
            would otherwise apply to the longer, prefixed mask) and return
            layer attributes to override while `attend` runs.
        description: how error messages name the supported class; defaults
            to the class name.

    Example:
    ```python
    keras_adapters.attention.register_attention_spec(
        keras_adapters.attention.AttentionSpec(
            attention_class=MyAttention,
            kv_shape=lambda layer: (layer.num_heads, layer.head_dim, layer.head_dim),
        )
    )
    ```
    """

    attention_class: type
    kv_shape: object
    kv_repeats: object = None
    attend: str = "_compute_attention"
    arguments: tuple = ("query", "key", "value", "attention_mask")
    causal_argument: str = None
    prepare: object = None
    description: str = None

    def __post_init__(self):
        if not (
            isinstance(self.attention_class, type)
            and issubclass(self.attention_class, keras.layers.Layer)
        ):
            raise ValueError(
                "`attention_class` must be a Keras layer class. "
                f"Received: attention_class={self.attention_class!r}"
            )
        if not callable(getattr(self.attention_class, self.attend, None)):
            raise ValueError(
                f"`attend` must name a method of {self.attention_class.__name__}. "
                f"Received: attend={self.attend!r}"
            )
        parameters = inspect.signature(getattr(self.attention_class, self.attend)).parameters
        names = list(self.arguments) + ([self.causal_argument] if self.causal_argument else [])
        missing = [n for n in names if n not in parameters]
        if len(self.arguments) != 4 or missing:
            raise ValueError(
                f"`arguments` must name the query, key, value and mask parameters of "
                f"{self.attention_class.__name__}.{self.attend} {list(parameters)[1:]}; "
                f"not found: {missing}. Received: arguments={self.arguments!r}"
            )
        for field in ("kv_shape", "kv_repeats", "prepare"):
            value = getattr(self, field)
            if value is not None and not callable(value):
                raise ValueError(f"`{field}` must be a function. Received: {field}={value!r}")

    @property
    def name(self):
        return self.description or self.attention_class.__name__

    def repeats(self, layer):
        return 1 if self.kv_repeats is None else int(self.kv_repeats(layer))

    @contextlib.contextmanager
    def prepended_keys(self, layer, keys, values):
        """Within the block, `layer` attends to `keys`/`values` ahead of its own.

        Args:
            layer: an instance of `attention_class`.
            keys: `[P, kv_heads, key_dim]` learned keys (no rotary embedding).
            values: `[P, kv_heads, value_dim]` learned values.

        Every query sees all `P` prefixes; the mask of the real keys (padding,
        causal, cache) is kept as it is behind them.
        """
        attend = getattr(type(layer), self.attend)
        signature = inspect.signature(attend)
        query_name, key_name, value_name, mask_name = self.arguments
        repeats = self.repeats(layer)

        def prefixed_attend(*args, **kwargs):
            bound = signature.bind(layer, *args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            key = arguments[key_name]
            mask = arguments[mask_name]
            if self.causal_argument and arguments.get(self.causal_argument):
                mask = _causal_mask(arguments[query_name], key, mask)
                arguments[self.causal_argument] = False
            overrides = {}
            if self.prepare is not None:
                mask, overrides = self.prepare(layer, mask, arguments)
            batch = ops.shape(key)[0]
            arguments[key_name] = _prepend(keys, key, batch, repeats)
            arguments[value_name] = _prepend(values, arguments[value_name], batch, repeats)
            arguments[mask_name] = _prefix_mask(mask, keys.shape[0])
            with _overridden(layer, overrides):
                return attend(*bound.args, **bound.kwargs)

        object.__setattr__(layer, self.attend, prefixed_attend)
        try:
            yield
        finally:
            object.__delattr__(layer, self.attend)


def _prepend(prefix, tensor, batch, repeats):
    prefix = ops.cast(prefix, tensor.dtype)
    if repeats > 1:
        prefix = ops.repeat(prefix, repeats, axis=1)
    prefix = ops.broadcast_to(prefix[None], (batch,) + tuple(prefix.shape))
    return ops.concatenate([prefix, tensor], axis=1)


def _causal_mask(query, key, mask):
    """`[B, T, S]` causal mask (query `i` sees keys up to `i + S - T`), and `mask`."""
    t, s = ops.shape(query)[1], ops.shape(key)[1]
    rows = ops.expand_dims(ops.arange(t), 1)
    cols = ops.expand_dims(ops.arange(s), 0)
    causal = ops.expand_dims(ops.greater_equal(rows + (s - t), cols), 0)
    return causal if mask is None else ops.logical_and(ops.cast(mask, "bool"), causal)


def _prefix_mask(mask, num_prefixes):
    """`[B, T, S]` (or `[B, S]`) mask -> `[B, T, P + S]` with every prefix visible."""
    if mask is None:
        return None
    if len(mask.shape) == 2:
        mask = ops.expand_dims(mask, 1)
    shape = ops.shape(mask)
    visible = ops.ones((shape[0], shape[1], num_prefixes), dtype=mask.dtype)
    return ops.concatenate([visible, mask], axis=-1)


@contextlib.contextmanager
def _overridden(layer, overrides):
    previous = {name: layer.__dict__[name] for name in overrides if name in layer.__dict__}
    for name, value in overrides.items():
        object.__setattr__(layer, name, value)
    try:
        yield
    finally:
        for name in overrides:
            if name in previous:
                object.__setattr__(layer, name, previous[name])
            else:
                object.__delattr__(layer, name)
