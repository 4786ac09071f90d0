"""AdaLoRA inside `model.fit(..., jit_compile=True)`: budget, no retracing, losses, files.

One tiny BERT classifier is trained once (`trained`, XLA) for exactly
`total_steps` steps while a callback records, after every step, the kept
triplets, the number of traces of the train step and the train function;
the checks that only read it share it. A tiny Llama 3 (grouped-query
attention) covers decoders.
"""

import dataclasses
import functools

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import AdaLoraWeights
from tests.support import numpy_decoder_blocks as decoder_ref
from tests.support import numpy_reference as ref
from tests.support import tiny_decoders as td
from tests.support.kernel_layouts import lora_matrices
from tests.support.numpy_adalora import peft_budget
from tests.support.tiny_models import (
    TINY,
    block_weights,
    make_classifier,
    make_inputs,
    weights_by_path,
)

CONFIG = keras_adapters.AdaLoraConfig(
    init_rank=4,
    target_rank=2,
    total_steps=12,
    warmup_steps=2,
    final_steps=2,
    reallocation_interval=3,
    modules_to_save=["logits"],
)
N_MATRICES = TINY["num_layers"] * 6  # all-linear on BERT: q, k, v, o, ffn in, ffn out
BATCH, EXAMPLES, EPOCHS = 4, 16, 3  # 4 steps per epoch, 12 steps in all


def _data(examples=EXAMPLES):
    x = make_inputs(batch=examples, length=6)
    return x, (x["token_ids"][:, 0] % 2).astype("int32")


def _compile(model, jit_compile=True, optimizer=None):
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )


def _modules(model, name="a"):
    return [
        module
        for layer in model._flatten_layers()
        for module in getattr(layer, "adapter_modules", lambda: [])()
        if isinstance(module, AdaLoraWeights) and module.name == name
    ]


def _masks(model, name="a"):
    return [np.array(m.rank_mask.numpy()) for m in _modules(model, name)]


class _Recorder(keras.callbacks.Callback):
    """After every step: kept triplets, traces of `train_step`, the train function."""

    def __init__(self, traces):
        super().__init__()
        self.traces, self.kept, self.trace_counts, self.functions = traces, [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.kept.append(int(sum(m.sum() for m in _masks(self.model))))
        self.trace_counts.append(len(self.traces))
        self.functions.append(self.model.train_function)


@dataclasses.dataclass(frozen=True)
class Trained:
    model: keras.Model
    before: dict
    recorder: _Recorder
    history: dict


@functools.cache
def _trained():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIG, "a", verbose=False)
    _compile(classifier)
    before = weights_by_path(classifier)
    traces = []
    train_step = classifier.train_step

    def counting_train_step(data):  # runs once per trace of the compiled step
        traces.append(1)
        return train_step(data)

    classifier.train_step = counting_train_step
    recorder = _Recorder(traces)
    x, y = _data()
    history = classifier.fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, callbacks=[recorder], verbose=0
    )
    del classifier.train_step
    return Trained(classifier, before, recorder, history.history)


@pytest.fixture
def trained():
    return _trained()


def test_budget_follows_the_schedule_and_is_met_exactly_at_the_end(trained):
    expected, kept = [], CONFIG.init_rank * N_MATRICES
    final = CONFIG.total_steps - CONFIG.final_steps
    for t in range(1, CONFIG.total_steps + 1):
        if (CONFIG.warmup_steps < t < final and t % CONFIG.reallocation_interval == 0) or (
            t == final
        ):
            kept = peft_budget(t, CONFIG, N_MATRICES)
        expected.append(kept)
    assert trained.recorder.kept == expected
    assert trained.recorder.kept[-1] == CONFIG.target_rank * N_MATRICES
    modules = _modules(trained.model)
    assert len(modules) == N_MATRICES
    assert {float(m.step.numpy()) for m in modules} == {CONFIG.total_steps}
    ranks = keras_adapters.trainable_report(trained.model).ranks["a"]
    assert sum(r.rank for r in ranks) == CONFIG.target_rank * N_MATRICES
    assert len({r.rank for r in ranks}) > 1  # the budget moved between matrices


def test_reallocation_never_retraces_the_train_step(trained):
    recorder = trained.recorder
    assert len(set(recorder.kept)) >= 4  # several reallocations happened...
    assert len(set(recorder.trace_counts)) == 1  # ...all traces happened in step 1
    assert all(f is recorder.functions[0] for f in recorder.functions)


def test_fit_moves_only_adalora_weights_and_the_saved_head(trained):
    model = trained.model
    moved = {
        p for p, w in weights_by_path(model).items() if not np.array_equal(w, trained.before[p])
    }
    trainable = {v.path for v in model.trainable_weights}
    assert trainable == {
        v.path for m in _modules(model) for v in (m.lora_p, m.lora_e, m.lora_q)
    } | {"logits/kernel", "logits/bias"}
    state = {v.path for m in _modules(model) for v in m.state_weights}
    assert moved - trainable == state  # masks and step counters move, untrained
    assert all(p.endswith(("/rank_mask", "/step")) for p in state)
    assert len(moved & trainable) == len(trainable)


def test_report_and_plot_show_the_final_ranks(trained, tmp_path):
    report = keras_adapters.trainable_report(trained.model)
    text = str(report)
    assert "ranks of adapter 'a' (kept/initial): 24 of 48 triplets" in text
    assert "query" in text and "ffn_output" in text
    assert report.adapters["a"][1] == sum(
        np.prod(v.shape) for m in _modules(trained.model) for v in (m.lora_p, m.lora_e, m.lora_q)
    )
    ranks = report.ranks["a"]
    assert [r.block for r in ranks[:6]] == [0] * 6
    assert [r.projection for r in ranks[:6]] == [
        "query",
        "key",
        "value",
        "attention_output",
        "ffn_intermediate",
        "ffn_output",
    ]
    path = keras_adapters.plot_ranks(trained.model, tmp_path / "ranks.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_adapter_file_round_trip_keeps_masks_and_outputs(trained, tmp_path):
    keras_adapters.save_adapter(trained.model, tmp_path / "adalora")
    fresh = make_classifier()
    keras_adapters.load_adapter(fresh, tmp_path / "adalora")
    for got, want in zip(_masks(fresh), _masks(trained.model)):
        np.testing.assert_array_equal(got, want)
    assert {float(m.step.numpy()) for m in _modules(fresh)} == {CONFIG.total_steps}
    x, _ = _data(4)
    np.testing.assert_allclose(fresh(x), trained.model(x), atol=1e-6)
    report = keras_adapters.trainable_report(fresh)
    assert report.ranks == keras_adapters.trainable_report(trained.model).ranks


def test_keras_round_trip_keeps_masks_outputs_and_trainability(trained, tmp_path):
    trained.model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    for got, want in zip(_masks(restored), _masks(trained.model)):
        np.testing.assert_array_equal(got, want)
    x, _ = _data(4)
    np.testing.assert_allclose(restored(x), trained.model(x), atol=1e-6)
    assert sorted(v.path for v in restored.trainable_weights) == sorted(
        v.path for v in trained.model.trainable_weights
    )


def test_merge_folds_only_kept_triplets_and_equals_unmerged(trained, tmp_path):
    keras_adapters.save_adapter(trained.model, tmp_path / "adalora")
    model = make_classifier()
    keras_adapters.load_adapter(model, tmp_path / "adalora")
    x, _ = _data(4)
    unmerged = np.array(model(x))
    block = model.backbone.transformer_layers[0]
    query = block._self_attention_layer._query_dense
    original = np.array(query.base_layer.kernel.numpy())
    module = query.get_adapter("a")
    keras_adapters.merge_adapters(model)
    np.testing.assert_allclose(model(x), unmerged, atol=1e-5)
    p, q = lora_matrices(module.lora_p.numpy(), module.lora_q.numpy(), "abc,cde->abde")
    kept = module.lora_e.numpy() * module.rank_mask.numpy()
    delta = ((p * kept) @ q * module.scale).reshape(original.shape)
    np.testing.assert_allclose(query.base_layer.kernel.numpy(), original + delta, atol=1e-6)
    keras_adapters.unmerge_adapters(model)
    np.testing.assert_allclose(query.base_layer.kernel.numpy(), original, atol=1e-6)
    np.testing.assert_allclose(model(x), unmerged, atol=1e-5)


def _penalties(model, name="a"):
    total = 0.0
    for m in _modules(model, name):
        r = m.rank
        p = m.lora_p.numpy().reshape(-1, r).astype("float64")
        q = m.lora_q.numpy().reshape(r, -1).astype("float64")
        total += np.sum((p.T @ p - np.eye(r)) ** 2) + np.sum((q @ q.T - np.eye(r)) ** 2)
    return total / len(_modules(model, name))


def test_orthogonality_regulariser_is_in_the_training_loss():
    classifier = make_classifier()
    for layer in classifier._flatten_layers():  # training and inference logits agree
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    keras_adapters.add_adapter(classifier, CONFIG, "a", verbose=False)
    _compile(classifier, jit_compile=False, optimizer=keras.optimizers.SGD(0.0))
    x, y = _data(8)
    logits = np.array(classifier(x), "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.mean(log_probs[np.arange(len(y)), y])
    expected = cross_entropy + CONFIG.orthogonality * _penalties(classifier)
    assert CONFIG.orthogonality * _penalties(classifier) > 1.0  # N(0, 0.02) factors: far from I
    loss = classifier.train_on_batch(x, y, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_bert_block_matches_numpy_reference_with_masked_triplets():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIG, "a", verbose=False)
    rng = np.random.default_rng(4)
    for module in _modules(classifier):
        for variable in (module.lora_p, module.lora_e, module.lora_q):
            variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
        module.rank_mask.assign((rng.random(module.rank) < 0.5).astype("float32"))
    block = classifier.backbone.transformer_layers[0]
    w = block_weights(block)
    attention = block._self_attention_layer
    layers = {
        "query": attention._query_dense,
        "key": attention._key_dense,
        "value": attention._value_dense,
        "output": attention._output_dense,
        "ffn_intermediate": block._feedforward_intermediate_dense,
        "ffn_output": block._feedforward_output_dense,
    }
    for name, layer in layers.items():
        m = layer.get_adapter("a")
        p, q = lora_matrices(
            m.lora_p.numpy(), m.lora_q.numpy(), getattr(layer.base_layer, "equation", None)
        )
        kept = m.lora_e.numpy() * m.rank_mask.numpy()
        kernel = w[f"{name}_kernel"]
        w[f"{name}_kernel"] = kernel + ((p * kept) @ q * m.scale).reshape(kernel.shape)
    hidden = rng.normal(size=(3, 6, TINY["hidden_dim"])).astype("float32")
    mask = make_inputs()["padding_mask"]
    activation = layers["ffn_intermediate"].base_layer.activation
    expected = ref.encoder_block(
        hidden, mask, w, block.layer_norm_epsilon, lambda t: np.array(activation(t))
    )
    got = np.array(block(hidden, padding_mask=mask))
    real = mask.astype(bool)
    np.testing.assert_allclose(got[real], expected[real], atol=1e-4)


def test_two_adalora_adapters_have_distinct_paths_and_their_own_hooks():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, CONFIG, "first", verbose=False)
    keras_adapters.add_adapter(classifier, CONFIG, "second", verbose=False)
    paths = [v.path for v in classifier.weights]
    assert len(paths) == len(set(paths))
    first = sorted(p for p in paths if "/adalora/first/" in p)
    second = sorted(p for p in paths if "/adalora/second/" in p)
    assert len(first) == 5 * N_MATRICES
    assert [p.replace("/first/", "/second/") for p in first] == second
    classifier.get_state_tree()
    keras_adapters.set_active_adapters(classifier, ["first", "second"])
    classifier.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # eager steps: cheaper than tracing twice for four steps
    )
    x, y = _data(8)
    classifier.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for name in ("first", "second"):
        assert {float(m.step.numpy()) for m in _modules(classifier, name)} == {2.0}
    keras_adapters.set_active_adapters(classifier, "first")
    classifier.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert {float(m.step.numpy()) for m in _modules(classifier, "first")} == {4.0}
    assert {float(m.step.numpy()) for m in _modules(classifier, "second")} == {2.0}


DECODER_CONFIG = keras_adapters.AdaLoraConfig(
    init_rank=3, target_rank=1, total_steps=6, warmup_steps=1, alpha=6.0
)


def _check_decoder_block(block, base, adapters):
    """The block against the float64 reference, on the real (unpadded) positions."""
    hidden = np.random.default_rng(3).normal(size=(3, td.LENGTH, td.HIDDEN)).astype("float32")
    mask = td.make_inputs()["padding_mask"]
    got = np.array(block(hidden, decoder_padding_mask=mask))
    hp = decoder_ref.block_hparams("llama3", td.FAMILIES["llama3"].config, 1)
    expected = decoder_ref.block("llama3", hidden, mask, base, hp, adapters)
    real = mask.astype(bool)
    np.testing.assert_allclose(got[real], expected[real], atol=1e-4, rtol=0)


def test_llama3_gqa_block_matches_numpy_reference_with_masked_triplets():
    backbone = td.make_backbone("llama3")
    block = backbone.transformer_layers[1]
    base = decoder_ref.read_block_weights("llama3", block)
    keras_adapters.add_adapter(backbone, DECODER_CONFIG, "a", verbose=False)
    _check_decoder_block(block, base, {})  # identity at initialisation
    rng = np.random.default_rng(5)
    adapters = {}
    for slot, weights in base.items():
        if "path" not in weights:
            continue
        module = next(m for m in _modules(backbone) if m.path.startswith(weights["path"] + "/"))
        for variable in (module.lora_p, module.lora_e, module.lora_q):
            variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
        module.rank_mask.assign(np.array([1, 0, 1], "float32"))
        p, q = lora_matrices(module.lora_p.numpy(), module.lora_q.numpy(), weights["equation"])
        kept = module.lora_e.numpy() * module.rank_mask.numpy()
        adapters[slot] = (p * kept, q, DECODER_CONFIG.scale)
    assert len(adapters) == 7  # q, k and v (fewer key/value heads), o, gate, up, down
    _check_decoder_block(block, base, {"lora": adapters})


@pytest.mark.parametrize(
    "jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["graph", "xla"]
)
def test_llama3_fit_meets_the_budget_and_merges(jit_compile):
    causal_lm = td.make_causal_lm("llama3")
    keras_adapters.add_adapter(causal_lm, DECODER_CONFIG, "a", verbose=False)
    causal_lm.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,  # XLA by default on BERT above; both here with --slow
    )
    x = td.make_inputs(batch=6)
    y = np.roll(x["token_ids"], -1, axis=1)
    causal_lm.fit(x, y, sample_weight=x["padding_mask"], batch_size=2, epochs=2, verbose=0)
    n = 2 * 7  # two blocks, seven projections each
    assert sum(m.effective_rank() for m in _modules(causal_lm)) == DECODER_CONFIG.target_rank * n
    assert {float(m.step.numpy()) for m in _modules(causal_lm)} == {6.0}
    inputs = td.make_inputs()
    unmerged = np.array(causal_lm(inputs))
    keras_adapters.merge_adapters(causal_lm)
    np.testing.assert_allclose(causal_lm(inputs), unmerged, atol=1e-4)
    keras_adapters.unmerge_adapters(causal_lm)
    np.testing.assert_allclose(causal_lm(inputs), unmerged, atol=1e-4)
