"""Gradient hooks: when the adapted model's `train_step` runs them, and what they see."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import keras_adapters
from keras_adapters.core.gradient_map import GradientMap
from keras_adapters.injection.gradient_hooks import gradient_hooks
from keras_adapters.injection.tensorflow_train_step import train_step_with_hooks
from tests.support.tiny_models import make_backbone, make_classifier, make_inputs

ADALORA = keras_adapters.AdaLoraConfig(init_rank=2, target_rank=1, total_steps=10)


def _data(batch=8):
    x = make_inputs(batch=batch, length=6)
    return x, (x["token_ids"][:, 0] % 2).astype("int32")


def _compile(model, optimizer, **kwargs):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **kwargs,
    )


def _steps(model):
    return {
        float(module.step.numpy())
        for layer in model._flatten_layers()
        for module in getattr(layer, "adapter_modules", lambda: [])()
        if hasattr(module, "step")
    }


def test_hooks_follow_the_active_enabled_unmerged_adapters():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, keras_adapters.LoraConfig(rank=2), "lora", verbose=False)
    assert gradient_hooks(classifier) == []  # fit runs Keras' own train_step
    keras_adapters.add_adapter(classifier, ADALORA, "ada", verbose=False)
    assert len(gradient_hooks(classifier)) == 1
    keras_adapters.disable_adapters(classifier)
    assert gradient_hooks(classifier) == []
    keras_adapters.enable_adapters(classifier)
    keras_adapters.merge_adapters(classifier)
    assert gradient_hooks(classifier) == []
    keras_adapters.unmerge_adapters(classifier)
    keras_adapters.set_active_adapters(classifier, "lora")
    assert gradient_hooks(classifier) == []


def test_gradient_map_reads_and_replaces_by_variable():
    a, b = keras.Variable(np.ones(2)), keras.Variable(np.zeros(3))
    gradients = GradientMap([a, b], [np.ones(2), None])
    assert gradients.get(b) is None and gradients.get(keras.Variable(1.0)) is None
    gradients.set(b, np.full(3, 2.0))
    assert gradients.gradients[1].tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(KeyError, match="not one of the trained variables"):
        gradients.set(keras.Variable(1.0, name="other"), 1.0)


def _twin_classifiers():
    """Two identical AdaLoRA classifiers without dropout (same weights, same steps)."""
    models = []
    for _ in range(2):
        classifier = make_classifier()
        for layer in classifier._flatten_layers():
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        keras_adapters.add_adapter(classifier, ADALORA, "a", verbose=False)
        models.append(classifier)
    for mine, theirs in zip(*[m.weights for m in models]):
        theirs.assign(mine)
    return models


def test_hooked_step_is_keras_step_and_hooks_see_the_unscaled_gradients():
    hooked, plain = _twin_classifiers()
    for model in (hooked, plain):  # a loss scale factor: gradients are scaled by 64
        _compile(model, keras.optimizers.SGD(0.1, loss_scale_factor=64.0), run_eagerly=True)
    data = _data()
    start = {v.path: np.array(v.numpy()) for v in plain.trainable_weights}
    seen = {}

    def record(gradients):
        seen.update({v.path: np.array(g) for v, g in zip(gradients.variables, gradients.gradients)})

    logs = train_step_with_hooks(hooked, data, hooks=[record])
    keras_logs = keras.Model.train_step(plain, data)
    assert set(logs) == set(keras_logs)
    for key in keras_logs:
        np.testing.assert_allclose(float(logs[key]), float(keras_logs[key]), rtol=1e-6)
    for mine, theirs in zip(hooked.weights, plain.weights):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-6)
    # SGD moved each variable by -0.1 x the unscaled gradient: what the hook saw.
    assert set(seen) == set(start)
    for variable in plain.trainable_weights:
        expected = start[variable.path] - 0.1 * seen[variable.path]
        np.testing.assert_allclose(variable.numpy(), expected, atol=1e-6)


def test_a_hook_can_replace_gradients():
    classifier, _ = _twin_classifiers()
    _compile(classifier, keras.optimizers.SGD(0.1, loss_scale_factor=8.0), run_eagerly=True)
    frozen = next(v for v in classifier.trainable_weights if v.path.endswith("/lora_q"))
    start = np.array(frozen.numpy())
    moving = [np.array(v.numpy()) for v in classifier.trainable_weights]

    def zero_one(gradients):
        gradients.set(frozen, keras.ops.zeros_like(gradients.get(frozen)))

    train_step_with_hooks(classifier, _data(), hooks=[zero_one])
    np.testing.assert_array_equal(frozen.numpy(), start)
    changed = [
        not np.array_equal(v.numpy(), m) for v, m in zip(classifier.trainable_weights, moving)
    ]
    assert sum(changed) == len(changed) - 1


class _OwnStepClassifier(keras_hub.models.BertTextClassifier):
    """A model class with its own `train_step` that does not call the hooks."""

    def train_step(self, data):
        return super().train_step(data)


class _HookedOwnStepClassifier(keras_hub.models.BertTextClassifier):
    """A model class with its own `train_step` that calls `apply_gradient_hooks`."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        variables = self.trainable_weights
        gradients = tape.gradient(loss, variables)
        gradients = keras_adapters.apply_gradient_hooks(self, variables, gradients)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.compute_metrics(x, y, y_pred)


@pytest.mark.parametrize("model_class", [_OwnStepClassifier, _HookedOwnStepClassifier])
def test_a_model_with_its_own_train_step_must_call_the_hooks(model_class):
    classifier = model_class(make_backbone(), num_classes=2, preprocessor=None)
    keras_adapters.add_adapter(classifier, ADALORA, "a", verbose=False)
    _compile(classifier, "sgd", run_eagerly=True)
    x, y = _data(4)
    if model_class is _OwnStepClassifier:
        with pytest.raises(NotImplementedError, match="call `keras_adapters.apply_gradient_hooks"):
            classifier.fit(x, y, batch_size=4, epochs=1, verbose=0)
    else:
        classifier.fit(x, y, batch_size=4, epochs=1, verbose=0)
        assert _steps(classifier) == {1.0}


def test_other_backends_get_a_clear_error(monkeypatch):
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, ADALORA, "a", verbose=False)
    _compile(classifier, "sgd", run_eagerly=True)
    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    with pytest.raises(NotImplementedError, match="TensorFlow backend only.*'jax' backend"):
        classifier.train_step(_data(4))
    assert _steps(classifier) == {0.0}
