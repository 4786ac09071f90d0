import keras
import numpy as np
import pytest

from keras_adapters.layers import PrefixAttention, PrefixEncoder
from tests.support.numpy_reference import softmax

RNG = np.random.default_rng(0)


def _mha():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    mha.build((None, None, 8), (None, None, 8))
    return mha


def _prefix(p=3, reparameterize=False):
    prefix = PrefixEncoder(
        p,
        num_heads=2,
        key_dim=4,
        value_dim=4,
        hidden_dim=8,
        reparameterize=reparameterize,
        projection_dim=5,
    )
    prefix.build()
    for v in prefix.weights:
        v.assign(RNG.normal(size=v.shape).astype("float32"))
    return prefix


def _reference(mha, x, mask, keys, values):
    w = {n: getattr(mha, f"_{n}_dense") for n in ("query", "key", "value", "output")}
    proj = lambda n, t: np.einsum("btc,cnh->btnh", t, w[n].kernel.numpy()) + w[n].bias.numpy()  # noqa
    q, k, v = proj("query", x), proj("key", x), proj("value", x)
    batch = x.shape[0]
    k = np.concatenate([np.broadcast_to(keys, (batch,) + keys.shape), k], 1)
    v = np.concatenate([np.broadcast_to(values, (batch,) + values.shape), v], 1)
    full_mask = np.concatenate([np.ones((batch, x.shape[1], keys.shape[0]), bool), mask], -1)
    scores = np.einsum("btnh,bsnh->bnts", q, k) / 2.0
    scores = np.where(full_mask[:, None], scores, -1e9)
    out = np.einsum("bnts,bsnh->btnh", softmax(scores), v)
    return np.einsum("btnh,nhc->btc", out, w["output"].kernel.numpy()) + w["output"].bias.numpy()


def test_attention_with_prefixes_matches_numpy():
    mha, prefix = _mha(), _prefix()
    layer = PrefixAttention(mha, adapters={"p": prefix})
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    mask = np.ones((2, 5, 5), bool)
    mask[1, :, 3:] = False
    keys, values = (np.array(t) for t in prefix.prefixes())
    got = layer(x, x, attention_mask=mask)
    np.testing.assert_allclose(got, _reference(mha, x, mask, keys, values), atol=1e-5)


def test_padding_does_not_change_real_positions():
    layer = PrefixAttention(_mha(), adapters={"p": _prefix()})
    x = RNG.normal(size=(1, 4, 8)).astype("float32")
    padded = np.concatenate([x, RNG.normal(size=(1, 3, 8)).astype("float32")], 1)
    mask = np.ones((1, 7, 7), bool)
    mask[:, :, 4:] = False
    short = layer(x, x, attention_mask=np.ones((1, 4, 4), bool))
    np.testing.assert_allclose(layer(padded, padded, attention_mask=mask)[:, :4], short, atol=1e-5)


def test_no_active_prefix_is_the_base_attention():
    mha = _mha()
    layer = PrefixAttention(mha, adapters={"p": _prefix()}, active_adapters=[])
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    np.testing.assert_array_equal(layer(x, x), mha(x, x))


def test_causal_mask_still_lets_every_query_see_prefixes():
    mha, prefix = _mha(), _prefix(p=2)
    layer = PrefixAttention(mha, adapters={"p": prefix})
    x = RNG.normal(size=(1, 4, 8)).astype("float32")
    causal = np.tril(np.ones((4, 4), bool))[None]
    keys, values = (np.array(t) for t in prefix.prefixes())
    got = layer(x, x, use_causal_mask=True)
    np.testing.assert_allclose(got, _reference(mha, x, causal, keys, values), atol=1e-5)


def test_reparameterized_prefix_folds_to_identical_values():
    prefix = _prefix(reparameterize=True)
    w = {v.name: v.numpy() for v in prefix.weights}
    hidden = np.tanh(w["prefix_embeddings"] @ w["projection_kernel"] + w["projection_bias"])
    flat = hidden @ w["output_kernel"] + w["output_bias"]
    keys, values = prefix.prefixes()
    np.testing.assert_allclose(keys, flat[:, :8].reshape(3, 2, 4), atol=1e-5)
    np.testing.assert_allclose(values, flat[:, 8:].reshape(3, 2, 4), atol=1e-5)
    plain = prefix.folded()
    assert not plain.reparameterize and len(plain.weights) == 2
    np.testing.assert_array_equal(plain.prefixes()[0], keys)
    np.testing.assert_array_equal(plain.prefixes()[1], values)


def test_gated_or_foreign_attention_refused():
    with pytest.raises(ValueError, match="ungated `keras.layers.MultiHeadAttention`"):
        PrefixAttention(keras.layers.Dense(3))
