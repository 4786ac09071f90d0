"""Target matching and bad input of `add_adapter`: errors come before any change."""

import keras_nlp
import numpy as np
import pytest

import keras_adapters
from keras_adapters.layers import AdapterWrapper
from tests.support.tiny_models import make_backbone, make_classifier, make_inputs


def _wrapped_paths(model):
    paths = []
    for block in model.transformer_layers:
        for layer in block._flatten_layers():
            if isinstance(layer, AdapterWrapper):
                inner = layer.base_layer
                paths.append(inner.path or layer.location)
    return sorted(paths)


def _lora(targets, **kwargs):
    return keras_adapters.LoraConfig(rank=2, targets=targets, **kwargs)


@pytest.mark.parametrize(
    "targets, kwargs, expected",
    [
        (
            ["query"],
            {},
            [
                "transformer_layer_0/self_attention_layer/query",
                "transformer_layer_1/self_attention_layer/query",
            ],
        ),
        (
            ["attention_output"],
            {"layers": [-1]},
            ["transformer_layer_1/self_attention_layer/attention_output"],
        ),
        (
            r"transformer_layer_1/.*/(key|value)",
            {},
            [
                "transformer_layer_1/self_attention_layer/key",
                "transformer_layer_1/self_attention_layer/value",
            ],
        ),
        (
            ["transformer_layer_0/feedforward_output_dense"],
            {},
            ["transformer_layer_0/feedforward_output_dense"],
        ),
        (
            ["feedforward_intermediate_dense"],
            {"exclude": ["transformer_layer_0/feedforward_intermediate_dense"]},
            ["transformer_layer_1/feedforward_intermediate_dense"],
        ),
        (
            r".*dense|.*query",
            {"exclude": r".*intermediate.*"},
            [
                "transformer_layer_0/feedforward_output_dense",
                "transformer_layer_0/self_attention_layer/query",
                "transformer_layer_1/feedforward_output_dense",
                "transformer_layer_1/self_attention_layer/query",
            ],
        ),
    ],
)
def test_target_forms(targets, kwargs, expected):
    backbone = make_backbone()
    keras_adapters.add_adapter(backbone, _lora(targets, **kwargs), "a", verbose=False)
    assert _wrapped_paths(backbone) == expected


def test_regex_must_match_the_whole_path():
    backbone = make_backbone()
    with pytest.raises(ValueError, match="matched no adapter-capable layer"):
        keras_adapters.add_adapter(backbone, _lora("query"), "a", verbose=False)


def _assert_unchanged(model, before_weights, before_class):
    assert type(model) is before_class
    assert not _wrapped_paths(model.backbone if hasattr(model, "backbone") else model)
    assert [v.path for v in model.weights] == before_weights
    assert keras_adapters.injection.adapter_state.get_state(model) is None


@pytest.mark.parametrize(
    "config, name, message",
    [
        (
            _lora(["nothing_here"]),
            "a",
            r"matched no adapter-capable layer. Received: targets=\['nothing_here'\].*Some available paths: .*transformer_layer_0/self_attention_layer/query",
        ),
        (_lora(["pooled_dense"]), "a", "nodes of a functional graph"),
        (_lora(["ffn_norm"]), "a", "LoRA supports keras.layers.EinsumDense.*LayerNormalization"),
        (  # a slot without weights is refused even next to a slot LoRA can adapt
            _lora(["ffn_intermediate", "attention_residual"]),
            "a",
            "names the slot 'attention_residual', which in BertBackbone blocks is a Dropout",
        ),
        (_lora(["query"], layers=[5]), "a", r"Received: layers=\[5\]"),
        (
            _lora(["query"], modules_to_save=["no_head"]),
            "a",
            r"Received: modules_to_save=\['no_head'\]",
        ),
        (keras_adapters.PfeifferConfig(bottleneck_dim=9), "a", "bottleneck_dim=9"),
        (keras_adapters.HoulsbyConfig(reduction_factor=3), "a", "reduction_factor=3"),
        (_lora(["query"]), "bad-name", "Received: adapter_name='bad-name'"),
        ("lora", "a", "`config` must be a method config"),
    ],
)
def test_bad_input_raises_before_any_change(config, name, message):
    classifier = make_classifier()
    before_weights, before_class = [v.path for v in classifier.weights], type(classifier)
    with pytest.raises(ValueError, match=message):
        keras_adapters.add_adapter(classifier, config, name, verbose=False)
    _assert_unchanged(classifier, before_weights, before_class)


def test_adapter_name_used_twice():
    classifier = make_classifier()
    keras_adapters.add_adapter(classifier, _lora(["query"]), "a", verbose=False)
    paths = [v.path for v in classifier.weights]
    with pytest.raises(ValueError, match="'a' is already used"):
        keras_adapters.add_adapter(classifier, keras_adapters.HoulsbyConfig(bottleneck_dim=2), "a")
    assert [v.path for v in classifier.weights] == paths


def test_unsupported_backbone_lists_supported_ones():
    import keras_hub

    fnet = keras_hub.models.FNetBackbone(
        vocabulary_size=50,
        num_layers=1,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    with pytest.raises(
        ValueError, match="FNetBackbone is not supported. Supported backbones: "
    ) as error:
        keras_adapters.add_adapter(fnet, _lora(["query"]), "a")
    for name in ("BertBackbone", "DistilBertBackbone", "RobertaBackbone", "register_backbone_spec"):
        assert name in str(error.value)


def test_keras_nlp_users_keep_working():
    backbone = keras_nlp.models.BertBackbone(
        vocabulary_size=60,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    x = make_inputs()
    before = np.array(backbone(x)["sequence_output"])
    keras_adapters.add_adapter(backbone, _lora(["query", "value"]), "a", verbose=False)
    np.testing.assert_allclose(backbone(x)["sequence_output"], before, atol=1e-6)


def test_report_counts_and_prints(capsys):
    classifier = make_classifier()
    report = keras_adapters.add_adapter(
        classifier, _lora(["query"], modules_to_save=["logits"]), "a"
    )
    printed = capsys.readouterr().out
    assert "adapter 'a'" in printed and "trainable" in printed
    assert report.adapters["a"] == ("lora", 2 * (8 * 2 + 2 * 8), True)
    assert report.modules_to_save == 8 * 2 + 2
    assert report.trainable == 64 + 18
    assert report.total == sum(int(np.prod(v.shape)) for v in classifier.weights)
    assert abs(report.percent - 100 * 82 / report.total) < 1e-9


def test_tied_token_embeddings_are_refused_with_the_alternative():
    from tests.support.tiny_decoders import make_causal_lm

    causal_lm = make_causal_lm("llama3")
    before = [v.path for v in causal_lm.weights]
    with pytest.raises(ValueError, match="Token embeddings are not adapted.*modules_to_save"):
        keras_adapters.add_adapter(causal_lm, _lora(["token_embedding"]), "a", verbose=False)
    assert [v.path for v in causal_lm.weights] == before
    keras_adapters.add_adapter(
        causal_lm, _lora(["query"], modules_to_save=["token_embedding"]), "a", verbose=False
    )
    trainable = {v.path for v in causal_lm.trainable_weights}
    assert "token_embedding/embeddings" in trainable
