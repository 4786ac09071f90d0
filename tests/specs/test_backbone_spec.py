"""`BackboneSpec` records: optional slots, checked on creation, one registry."""

import keras
import keras_hub
import pytest

from keras_adapters import specs
from tests.support.tiny_models import make_backbone


def _spec(**overrides):
    fields = dict(
        backbone_class=keras_hub.models.BertBackbone,
        blocks="transformer_layers",
        slots={"query": "_self_attention_layer._query_dense"},
    )
    return specs.BackboneSpec(**{**fields, **overrides})


def test_a_spec_may_name_any_subset_of_slots():
    spec = _spec()
    assert spec.has_slot("query") and not spec.has_slot("ffn_gate")
    assert spec.slot_attributes("query") == ["_self_attention_layer", "_query_dense"]


def test_a_missing_slot_says_who_needs_it_and_what_is_there():
    with pytest.raises(
        ValueError,
        match=r"Houlsby needs the block slots \['ffn_residual'\].*Slots of BertBackbone: \['query'\]",
    ):
        _spec().require_slots(["query", "ffn_residual"], "Houlsby")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"backbone_class": keras.layers.Dense}, "`backbone_class` must be a Keras model class"),
        ({"blocks": "not an attribute"}, "`blocks` must be an attribute name"),
        ({"slots": {}}, "`slots` must be a non-empty dict"),
        ({"slots": {"qeury": "_q"}}, r"unknown slots \['qeury'\]. Valid slots: .*'ffn_gate'"),
        ({"slots": {"query": "a..b"}}, "dotted attribute paths"),
        (
            {"ffn_chain": ("ffn_output",)},
            r"`ffn_chain` must list slots of this spec; \['ffn_output'\]",
        ),
        ({"norm_position": "middle"}, "Received: norm_position='middle'"),
    ],
)
def test_bad_records_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        _spec(**overrides)


def test_attention_kind_is_deprecated_and_ignored():
    with pytest.warns(DeprecationWarning, match="keras_adapters.attention"):
        spec = _spec(attention_kind="keras_multi_head_attention")
    assert spec.has_slot("query")


def test_registry_finds_subclasses_and_refuses_duplicates():
    assert "BertBackbone" in specs.supported_backbones()
    exact = keras_hub.models.BertBackbone
    assert specs.get_backbone_spec(make_backbone("bert")).backbone_class is exact
    with pytest.raises(ValueError, match="already registered"):
        specs.register_backbone_spec(_spec())
    with pytest.raises(ValueError, match="must be a BackboneSpec"):
        specs.register_backbone_spec({"backbone_class": exact})


def test_unsupported_backbone_names_the_supported_ones():
    with pytest.raises(
        ValueError, match="Dense is not supported. Supported backbones: .*BertBackbone"
    ):
        specs.get_backbone_spec(keras.layers.Dense(2))


def test_encoder_slots_resolve_to_layers_of_real_blocks():
    backbone = make_backbone("bert")
    spec = specs.get_backbone_spec(backbone)
    block = backbone.transformer_layers[0]
    for slot in spec.slots:
        owner = block
        for attribute in spec.slot_attributes(slot):
            owner = getattr(owner, attribute)
        assert isinstance(owner, keras.layers.Layer), slot
    for slot in spec.ffn_chain:
        assert spec.has_slot(slot)
