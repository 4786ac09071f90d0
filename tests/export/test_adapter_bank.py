"""Adapter banks: many LoRA adapters in one SavedModel, one adapter per example.

One bank (adapters `a`, `b`, `c`: different ranks, scales, sites and their
own heads) is exported once, a fourth adapter `d` (no head of its own) is
added into a new version, and both versions are called in fresh
TensorFlow-only processes with a batch that mixes every adapter and the base
model. Each example must get exactly what a classifier holding only its
adapter (loaded from the same file) computes.
"""

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

import keras_adapters
import keras_adapters.export
from tests.export.text_classifiers import (
    LABEL_NAMES,
    TEXTS,
    assert_unchanged,
    call_logits,
    make_text_classifier,
    randomized,
    snapshot,
)

SEED = 1
CONFIGS = {
    "a": keras_adapters.LoraConfig(rank=1, modules_to_save=["logits"]),
    "b": keras_adapters.LoraConfig(
        rank=2,
        alpha=4,
        targets=["query", "value", "ffn_intermediate", "ffn_output"],
        modules_to_save=["logits"],
    ),
    "c": keras_adapters.LoraConfig(
        rank=4,
        alpha=3,
        use_rslora=True,
        targets=["attention_output", "ffn_intermediate"],
        layers=[1],
        modules_to_save=["logits"],
    ),
    "d": keras_adapters.LoraConfig(rank=3, targets=["query"]),  # added later, base head
    "wide": keras_adapters.LoraConfig(rank=8, targets=["query"]),
    "keys": keras_adapters.LoraConfig(rank=2, targets=["key"]),
    "e": keras_adapters.LoraConfig(rank=1, targets=["value"]),
}
MAX_ADAPTERS, MAX_RANK = 4, 4


def _save(directory, name, config, seed):
    """Trains nothing: gives an adapter (and its head) random weights, saves it, returns its logits."""
    classifier = make_text_classifier(seed=SEED)
    keras_adapters.add_adapter(classifier, config, name, verbose=False)
    randomized(classifier, seed=seed)
    if config.modules_to_save:
        rng = np.random.default_rng(seed)
        for variable in classifier.get_layer("logits").weights:
            variable.assign(rng.normal(scale=0.5, size=variable.shape).astype("float32"))
    keras_adapters.save_adapter(classifier, directory / name)
    return call_logits(classifier)


def _mixed(names):
    """Every text with every adapter name: (texts, adapter names)."""
    return [t for t in TEXTS for _ in names], [n for _ in TEXTS for n in names]


def _expected(reference, names):
    return np.stack([reference[n][i] for i in range(len(TEXTS)) for n in names])


def _digest(path):
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        if item.is_file():
            digest.update(str(item.relative_to(path)).encode() + item.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    root = tmp_path_factory.mktemp("bank")
    adapters = root / "adapters"
    reference = {"": call_logits(make_text_classifier(seed=SEED))}
    for seed, (name, config) in enumerate(CONFIGS.items(), start=10):
        reference[name] = _save(adapters, name, config, seed)
    houlsby = make_text_classifier(seed=SEED)
    keras_adapters.add_adapter(
        houlsby, keras_adapters.HoulsbyConfig(bottleneck_dim=2), "houlsby", verbose=False
    )
    keras_adapters.save_adapter(houlsby, adapters / "houlsby")

    # The exported model holds an active LoRA adapter on bank sites (`value`):
    # the bank's base slot is the model with no adapter active.
    classifier = make_text_classifier(seed=SEED)
    keras_adapters.load_adapter(classifier, adapters / "e")
    before = snapshot(classifier)
    v1 = keras_adapters.export.export_adapter_bank(
        classifier,
        root / "model" / "1",
        label_names=LABEL_NAMES,
        adapters=[adapters / n for n in ("a", "b", "c")],
        max_adapters=MAX_ADAPTERS,
        max_rank=MAX_RANK,
    )
    v1_digest = _digest(v1)
    v2 = keras_adapters.export.add_to_adapter_bank(v1, adapters / "d", root / "model" / "2")
    calls = {1: ("", "a", "b", "c"), 2: ("", "a", "b", "c", "d")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            version: pool.submit(
                keras_adapters.export.call_saved_model,
                root / "model" / str(version),
                dict(zip(("texts", "adapter"), _mixed(names))),
            )
            for version, names in calls.items()
        }
        outputs = {version: future.result() for version, future in futures.items()}
    return {
        "root": root,
        "adapters": adapters,
        "reference": reference,
        "classifier": classifier,
        "before": before,
        "v1": v1,
        "v2": v2,
        "v1_digest": v1_digest,
        "calls": calls,
        "outputs": outputs,
    }


def test_adapters_change_the_logits(bank):
    reference = bank["reference"]
    for name in ("a", "b", "c", "d"):
        assert np.max(np.abs(reference[name] - reference[""])) > 0.05, name


@pytest.mark.parametrize("version", [1, 2])
def test_mixed_batch_matches_each_adapter_alone(bank, version):
    outputs = bank["outputs"][version]
    expected = _expected(bank["reference"], bank["calls"][version])
    assert outputs.fresh_process
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1.0, atol=1e-6)
    assert outputs["label"] == [LABEL_NAMES[i] for i in expected.argmax(axis=-1)]


def test_adding_leaves_the_old_version_untouched(bank):
    assert _digest(bank["v1"]) == bank["v1_digest"]
    old, new = (
        json.loads((bank[v] / "assets.extra" / "keras_adapters_export.json").read_text())
        for v in ("v1", "v2")
    )
    assert old["bank"]["names"] == ["", "a", "b", "c", ""]
    assert new["bank"]["names"] == ["", "a", "b", "c", "d"]
    assert new["bank"]["ranks"] == [0, 1, 2, 4, 3]
    assert new["bank"]["own_heads"] == [False, True, True, True, False]
    assert sorted(p.name for p in bank["root"].joinpath("model").iterdir()) == ["1", "2"]


def test_export_leaves_the_model_as_it_was(bank):
    assert_unchanged(bank["before"], snapshot(bank["classifier"]))
    np.testing.assert_allclose(call_logits(bank["classifier"]), bank["reference"]["e"], atol=1e-6)


def test_bank_variables_are_padded_with_scale_folded_in(bank):
    loaded = tf.saved_model.load(str(bank["v1"]))
    metadata = json.loads((bank["v1"] / "assets.extra" / "keras_adapters_export.json").read_text())
    variables = dict(zip(metadata["bank"]["variables"], loaded.adapter_bank))
    tensors = safetensors.numpy.load_file(
        str(bank["adapters"] / "b" / "adapter_weights.safetensors")
    )
    site = "transformer_layer_0/feedforward_intermediate_dense"
    a, b = (variables[f"{site}/lora_{x}"].numpy() for x in "ab")
    assert a.shape == (MAX_ADAPTERS + 1, 8, MAX_RANK) and b.shape == (
        MAX_ADAPTERS + 1,
        MAX_RANK,
        16,
    )
    np.testing.assert_array_equal(a[0], 0)  # base
    np.testing.assert_array_equal(a[2, :, :2], tensors[f"{site}/lora_a"])
    np.testing.assert_array_equal(a[2, :, 2:], 0)  # rank 2 padded to 4
    np.testing.assert_allclose(b[2, :2], tensors[f"{site}/lora_b"] * 2.0)  # alpha 4 / rank 2
    np.testing.assert_array_equal(b[[1, 3, 4]], 0)  # `a`, `c` skip this site; slot 4 free
    assert variables["adapter_names"].numpy().tolist() == [b"", b"a", b"b", b"c", b""]
    assert metadata["bank"]["bytes_per_slot"] == 4 * sum(
        int(np.prod(v.shape[1:])) for v in loaded.adapter_bank[1:]
    )


def test_unknown_adapter_name_fails_the_request_naming_it(bank):
    serve = tf.saved_model.load(str(bank["v1"])).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Unknown adapter.*\[typo\].*a b c"):
        serve(texts=tf.constant(["a film", "a film"]), adapter=tf.constant(["a", "typo"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Unknown adapter.*\[d\]"):
        serve(texts=tf.constant(["a film"]), adapter=tf.constant(["d"]))  # only in version 2
    with pytest.raises(tf.errors.InvalidArgumentError, match="one adapter name per entry"):
        serve(texts=tf.constant(["a film", "a plot"]), adapter=tf.constant(["a"]))


# === Refusals: adding ===


def _tampered(bank, tmp_path, source, change_config=None, change_tensors=None):
    target = tmp_path / f"{source}_tampered"
    shutil.copytree(bank["adapters"] / source, target)
    config_file, weights_file = (
        target / "adapter_config.json",
        target / "adapter_weights.safetensors",
    )
    if change_config:
        config = json.loads(config_file.read_text())
        change_config(config)
        config_file.write_text(json.dumps(config))
    if change_tensors:
        tensors = safetensors.numpy.load_file(str(weights_file))
        change_tensors(tensors)
        safetensors.numpy.save_file(tensors, str(weights_file))
    return target


def _wrong_a_shape(tensors):
    key = "transformer_layer_0/self_attention_layer/query/lora_a"
    tensors[key] = np.zeros((9, 3), "float32")


def _wrong_head(tensors):
    tensors["modules_to_save/logits/kernel"] = np.zeros((8, 3), "float32")


def _other_backbone(config):
    config["backbone"] = "GPT2Backbone"


@pytest.mark.parametrize(
    "version, adapter, name, tamper, message",
    [
        (2, "e", None, None, r"The bank is full: its 4 adapter slots hold \['a', 'b', 'c', 'd'\]"),
        (1, "wide", None, None, r"rank 8 is above the bank's max_rank=4"),
        (1, "keys", None, None, r"site 'transformer_layer_0/self_attention_layer/key' has no bank"),
        (1, "d", None, dict(change_tensors=_wrong_a_shape), r"lora_a \(9, 3\).*expects \(8, 3\)"),
        (1, "a", "fresh", dict(change_tensors=_wrong_head), r"not a copy of the banked head"),
        (1, "d", None, dict(change_config=_other_backbone), r"trained on a GPT2Backbone"),
        (1, "d", "b", None, r"already holds an adapter named 'b'"),
        (1, "a", None, None, r"already holds an adapter named 'a'"),
        (1, "d", "", None, r"must be a non-empty Python identifier"),
        (1, "houlsby", None, None, r"LoRA adapters only.*'houlsby' adapter \(HoulsbyConfig\)"),
    ],
)
def test_add_refuses(bank, tmp_path, version, adapter, name, tamper, message):
    source = bank[f"v{version}"]
    digest = _digest(source)
    adapter_dir = (
        _tampered(bank, tmp_path, adapter, **tamper) if tamper else bank["adapters"] / adapter
    )
    with pytest.raises(ValueError, match=message):
        keras_adapters.export.add_to_adapter_bank(source, adapter_dir, tmp_path / "3", name=name)
    assert not (tmp_path / "3").exists()
    assert _digest(source) == digest


def test_add_refuses_an_existing_target_and_a_plain_saved_model(bank, tmp_path):
    with pytest.raises(ValueError, match="must be a new directory"):
        keras_adapters.export.add_to_adapter_bank(bank["v1"], bank["adapters"] / "d", bank["v2"])
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="must be an adapter bank SavedModel"):
        keras_adapters.export.add_to_adapter_bank(
            tmp_path / "plain", bank["adapters"] / "d", tmp_path / "2"
        )


# === Refusals: exporting ===


@pytest.mark.parametrize(
    "adapters, kwargs, message",
    [
        (["a", "b", "c"], dict(max_adapters=2), r"at least the number of adapters \(3\)"),
        (["a", "wide"], {}, r"rank 8 is above the bank's max_rank=4"),
        (["a", "houlsby"], {}, r"LoRA adapters only"),
        (["a", "a"], {}, r"already holds an adapter named 'a'"),
        ([], {}, r"must be a non-empty list of adapter directories"),
        (["a"], dict(max_rank=0), r"max_rank"),
        (["a"], dict(label_names=["one"]), r"must name each of the 2 classes"),
    ],
)
def test_export_refuses(bank, tmp_path, adapters, kwargs, message):
    if isinstance(adapters, dict):
        adapters = {name: bank["adapters"] / source for name, source in adapters.items()}
    else:
        adapters = [bank["adapters"] / source for source in adapters]
    arguments = dict(label_names=LABEL_NAMES, max_adapters=MAX_ADAPTERS, max_rank=MAX_RANK)
    arguments.update(kwargs)
    classifier = bank["classifier"]
    before = snapshot(classifier)
    with pytest.raises(ValueError, match=message):
        keras_adapters.export.export_adapter_bank(
            classifier, tmp_path / "1", adapters=adapters, **arguments
        )
    assert list(tmp_path.iterdir()) == []
    assert_unchanged(before, snapshot(classifier))


def test_export_refuses_merged_adapters_and_sites_that_do_not_match(bank, tmp_path):
    classifier = make_text_classifier(seed=SEED)
    keras_adapters.add_adapter(classifier, CONFIGS["e"], "e", verbose=False)
    keras_adapters.merge_adapters(classifier)
    arguments = dict(label_names=LABEL_NAMES, max_adapters=2, max_rank=4)
    with pytest.raises(ValueError, match=r"merged into the base weights.*unmerge_adapters"):
        keras_adapters.export.export_adapter_bank(
            classifier, tmp_path / "1", adapters=[bank["adapters"] / "a"], **arguments
        )
    moved = _tampered(
        bank, tmp_path, "d", change_config=lambda c: c["config"].update(targets=["value"])
    )
    with pytest.raises(
        ValueError, match=r"config selects the sites .*value.*weights cover .*query"
    ):
        keras_adapters.export.export_adapter_bank(
            bank["classifier"], tmp_path / "2", adapters=[moved], **arguments
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d_tampered"]
