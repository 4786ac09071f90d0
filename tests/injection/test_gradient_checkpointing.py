"""`gradient_checkpointing`: same gradients (adapters' never silently zero), blocks recomputed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
from keras_adapters.injection.gradient_checkpointing import (
    is_gradient_checkpointing,
    is_rematerialized,
)
from keras_adapters.planning.model_context import ModelContext
from tests.injection.test_quantize_base import CONFIGS
from tests.support.tiny_models import (
    make_classifier,
    make_decoder,
    make_decoder_inputs,
    make_inputs,
    randomize_adapters,
    randomize_weights,
    weights_by_path,
)


def _gradients(model, inputs):
    with tf.GradientTape() as tape:
        outputs = model(inputs)
        outputs = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        loss = tf.reduce_sum(tf.square(tf.cast(outputs, "float32")))
    grads = tape.gradient(loss, model.trainable_weights)
    return {v.path: g for v, g in zip(model.trainable_weights, grads)}


def _count_attention_calls(model):
    """Counts calls of every block's attention layer (wrapped in place)."""
    calls = []
    for block in ModelContext(model).blocks:
        attention = block._self_attention_layer
        original = attention.call

        def counted(*args, _original=original, **kwargs):
            calls.append(1)
            return _original(*args, **kwargs)

        object.__setattr__(attention, "call", counted)
    return calls


def _check_same_gradients(model, inputs, rtol=1e-5):
    without = _gradients(model, inputs)
    blocks = keras_adapters.gradient_checkpointing(model)
    assert blocks and is_gradient_checkpointing(model)
    with_it = _gradients(model, inputs)
    adapter_paths = [p for p in without if not p.startswith("logits")]
    assert adapter_paths and without.keys() == with_it.keys()
    for path in adapter_paths:  # the known failure elsewhere: adapter gradients silently zero
        assert with_it[path] is not None and float(tf.reduce_max(tf.abs(with_it[path]))) > 0, path
    for path, expected in without.items():
        np.testing.assert_allclose(with_it[path], expected, rtol=rtol, atol=1e-6, err_msg=path)


@pytest.mark.parametrize(
    "method", [m if m == "lora" else pytest.param(m, marks=pytest.mark.slow) for m in CONFIGS]
)
def test_every_method_gets_the_same_gradients(method):
    classifier = make_classifier(dropout=0.0)
    randomize_weights(classifier)
    keras_adapters.add_adapter(classifier, CONFIGS[method], "a", verbose=False)
    rng = np.random.default_rng(2)
    for variable in classifier.trainable_weights:  # no zero-initialised factor hides a gradient
        variable.assign(0.3 * rng.normal(size=variable.shape).astype("float32"))
    _check_same_gradients(classifier, make_inputs())


def test_blocks_run_again_in_the_backward_pass_and_can_be_turned_off():
    classifier = make_classifier(dropout=0.0)
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
    calls = _count_attention_calls(classifier)
    keras_adapters.gradient_checkpointing(classifier)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(classifier(make_inputs()))
    forward = len(calls)
    tape.gradient(loss, classifier.trainable_weights)
    assert forward == 2 and len(calls) == 2 * forward  # two blocks, each run once more
    keras_adapters.gradient_checkpointing(classifier, enabled=False)
    assert not is_gradient_checkpointing(classifier)
    calls.clear()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(classifier(make_inputs()))
    tape.gradient(loss, classifier.trainable_weights)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="Received: enabled='yes'"):
        keras_adapters.gradient_checkpointing(classifier, enabled="yes")
    dropping = make_classifier()  # KerasHub's default dropout 0.1
    with pytest.raises(ValueError, match=r"without dropout.*Received: dropout layers \["):
        keras_adapters.gradient_checkpointing(dropping)
    assert not any(is_rematerialized(b) for b in ModelContext(dropping).blocks)


@pytest.mark.slow
def test_decoder_gets_the_same_gradients():
    decoder = make_decoder("llama3")
    randomize_weights(decoder)
    keras_adapters.add_adapter(decoder, keras_adapters.LoraConfig(rank=2), "a", verbose=False)
    randomize_adapters(decoder)
    _check_same_gradients(decoder, make_decoder_inputs())


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["mixed_bfloat16", "int8"])
def test_mixed_precision_and_an_int8_base_get_the_same_gradients(setting):
    dtype = setting if setting.startswith("mixed") else None
    classifier = make_classifier(dtype=dtype, dropout=0.0)
    randomize_weights(classifier)
    keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
    if setting == "int8":
        keras_adapters.quantize_base(classifier, "int8")
    randomize_adapters(classifier)
    _check_same_gradients(classifier, make_inputs(), rtol=1e-2 if dtype else 1e-5)


@pytest.mark.slow
def test_xla_fit_gives_the_same_weights_with_and_without():
    trained = []
    for enabled in (False, True):
        classifier = make_classifier(dropout=0.0)
        randomize_weights(classifier)
        keras_adapters.add_adapter(classifier, CONFIGS["lora"], "a", verbose=False)
        keras_adapters.gradient_checkpointing(classifier, enabled=enabled)
        classifier.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        classifier.fit(make_inputs(batch=4), np.arange(4) % 2, batch_size=4, epochs=2, verbose=0)
        trained.append(weights_by_path(classifier))
    assert trained[0].keys() == trained[1].keys()
    for path, value in trained[0].items():
        np.testing.assert_allclose(trained[1][path], value, rtol=1e-5, atol=1e-6, err_msg=path)
