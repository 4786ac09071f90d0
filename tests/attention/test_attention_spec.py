"""Attention specs: prefixes enter any registered attention class, exactly."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_adapters import attention
from keras_adapters.layers import PrefixAttention, PrefixEncoder
from tests.support.numpy_reference import softmax

RNG = np.random.default_rng(0)


class GroupedAttention(keras.layers.Layer):
    """A tiny grouped-query attention that repeats kv heads before attending."""

    def __init__(self, num_heads=4, num_kv_heads=2, head_dim=3, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.scale_override = None

    def build(self, input_shape):
        d = input_shape[-1]
        self.wq = self.add_weight(shape=(d, self.num_heads, self.head_dim), name="wq")
        self.wk = self.add_weight(shape=(d, self.num_kv_heads, self.head_dim), name="wk")
        self.wv = self.add_weight(shape=(d, self.num_kv_heads, self.head_dim), name="wv")

    def call(self, x, attention_mask=None):
        q = ops.einsum("btd,dnh->btnh", x, self.wq)
        k = ops.einsum("btd,dnh->btnh", x, self.wk)
        v = ops.einsum("btd,dnh->btnh", x, self.wv)
        groups = self.num_heads // self.num_kv_heads
        k, v = ops.repeat(k, groups, axis=2), ops.repeat(v, groups, axis=2)
        return self._compute_attention(q, k, v, attention_mask)

    def _compute_attention(self, q, k, v, mask=None):
        scores = ops.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(self.head_dim)
        if mask is not None:
            scores = ops.where(ops.cast(mask, "bool")[:, None], scores, -1e9)
        out = ops.einsum("bnts,bsnh->btnh", ops.softmax(scores, axis=-1), v)
        return ops.reshape(out, (ops.shape(out)[0], ops.shape(out)[1], -1))


GROUPED = attention.register_attention_spec(
    attention.AttentionSpec(
        attention_class=GroupedAttention,
        kv_shape=lambda layer: (layer.num_kv_heads, layer.head_dim, layer.head_dim),
        kv_repeats=lambda layer: layer.num_heads // layer.num_kv_heads,
        arguments=("q", "k", "v", "mask"),
    )
)


def _layer_and_prefix(p=2):
    layer = GroupedAttention()
    layer.build((None, None, 5))
    for w in layer.weights:
        w.assign(RNG.normal(size=w.shape).astype("float32"))
    prefix = PrefixEncoder(p, num_heads=2, key_dim=3, value_dim=3, hidden_dim=5)
    prefix.build()
    for w in prefix.weights:
        w.assign(RNG.normal(size=w.shape).astype("float32"))
    return layer, prefix


def _reference(layer, x, mask, keys, values):
    q = np.einsum("btd,dnh->btnh", x, layer.wq.numpy())
    k = np.einsum("btd,dnh->btnh", x, layer.wk.numpy())
    v = np.einsum("btd,dnh->btnh", x, layer.wv.numpy())
    batch = x.shape[0]
    k = np.concatenate([np.broadcast_to(keys, (batch,) + keys.shape), k], 1).repeat(2, axis=2)
    v = np.concatenate([np.broadcast_to(values, (batch,) + values.shape), v], 1).repeat(2, axis=2)
    mask = np.concatenate([np.ones((batch, x.shape[1], keys.shape[0]), bool), mask], -1)
    scores = np.where(mask[:, None], np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(3), -1e9)
    out = np.einsum("bnts,bsnh->btnh", softmax(scores), v)
    return out.reshape(batch, x.shape[1], -1)


def test_grouped_query_prefixes_match_numpy():
    layer, prefix = _layer_and_prefix()
    wrapped = PrefixAttention(layer, adapters={"p": prefix})
    x = RNG.normal(size=(2, 4, 5)).astype("float32")
    mask = np.ones((2, 4, 4), bool)
    mask[1, :, 2:] = False
    keys, values = (np.array(t) for t in prefix.prefixes())
    got = wrapped(x, attention_mask=mask)
    np.testing.assert_allclose(got, _reference(layer, x, mask, keys, values), atol=1e-5)
    assert "_compute_attention" not in layer.__dict__  # the class method is back


def test_the_attend_method_is_restored_when_the_call_fails():
    layer, prefix = _layer_and_prefix()
    wrapped = PrefixAttention(layer, adapters={"p": prefix})
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        wrapped(np.zeros((1, 3, 7), "float32"))  # wrong feature size
    assert "_compute_attention" not in layer.__dict__


def test_prepare_rewrites_the_mask_and_overrides_attributes_during_attend():
    seen = {}

    class Windowed(GroupedAttention):
        def _compute_attention(self, q, k, v, mask=None):
            seen["override"] = self.scale_override
            seen["mask"] = np.array(mask)
            return super()._compute_attention(q, k, v, mask)

    def keep_first_key(layer, mask, arguments):
        return ops.concatenate([mask[..., :1], ops.zeros_like(mask[..., 1:])], -1), {
            "scale_override": "on"
        }

    attention.register_attention_spec(
        attention.AttentionSpec(
            attention_class=Windowed,
            kv_shape=GROUPED.kv_shape,
            kv_repeats=GROUPED.kv_repeats,
            arguments=("q", "k", "v", "mask"),
            prepare=keep_first_key,
        )
    )
    layer = Windowed()
    layer.build((None, None, 5))
    _, prefix = _layer_and_prefix(p=2)
    PrefixAttention(layer, adapters={"p": prefix})(
        np.zeros((1, 3, 5), "float32"), attention_mask=np.ones((1, 3, 3), "int32")
    )
    assert seen["override"] == "on" and layer.scale_override is None
    np.testing.assert_array_equal(seen["mask"][0, 0], [1, 1, 1, 0, 0])


def test_registry_lookup_and_errors():
    cached = keras.layers.MultiHeadAttention
    assert attention.get_attention_spec(cached(num_heads=1, key_dim=2)).attention_class is cached
    import keras_hub

    layer = keras_hub.layers.CachedMultiHeadAttention(num_heads=1, key_dim=2)
    assert attention.find_attention_spec(layer).attention_class is cached
    with pytest.raises(
        ValueError, match="Dense, which has no attention spec. Supported attention classes: "
    ):
        attention.get_attention_spec(keras.layers.Dense(2), "Prefix tuning")
    with pytest.raises(ValueError, match="already registered"):
        attention.register_attention_spec(GROUPED)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"attention_class": int}, "`attention_class` must be a Keras layer class"),
        ({"attend": "_missing"}, "Received: attend='_missing'"),
        ({"arguments": ("q", "k", "v", "attention_mask")}, r"not found: \['attention_mask'\]"),
        ({"kv_shape": 3}, "`kv_shape` must be a function"),
    ],
)
def test_bad_records_are_refused(overrides, message):
    fields = dict(
        attention_class=GroupedAttention,
        kv_shape=GROUPED.kv_shape,
        arguments=("q", "k", "v", "mask"),
    )
    with pytest.raises(ValueError, match=message):
        attention.AttentionSpec(**{**fields, **overrides})
