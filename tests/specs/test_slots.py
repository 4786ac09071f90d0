"""The slot vocabulary: open, validated, one list of projection slots."""

import pytest

from keras_adapters import specs


def test_vocabulary_has_gated_and_fused_slots():
    for slot in ("ffn_gate", "query_key_value", "query", "ffn_norm"):
        assert slot in specs.SLOTS and specs.SLOTS[slot]


def test_projection_slots_are_slots():
    assert set(specs.PROJECTION_SLOTS) <= set(specs.SLOTS)
    assert "ffn_gate" in specs.PROJECTION_SLOTS and "ffn_norm" not in specs.PROJECTION_SLOTS


def test_register_slot_grows_the_vocabulary():
    name = "test_only_cross_attention"
    specs.register_slot(name, "a cross-attention layer")
    assert specs.SLOTS[name] == "a cross-attention layer"
    with pytest.raises(ValueError, match="already registered"):
        specs.register_slot(name, "again")


@pytest.mark.parametrize(
    "name, description, message",
    [
        ("not an identifier", "x", r"Received: name='not an identifier'"),
        (3, "x", "Received: name=3"),
        ("test_only_empty_description", " ", "Received: description=' '"),
    ],
)
def test_register_slot_refuses_bad_input(name, description, message):
    with pytest.raises(ValueError, match=message):
        specs.register_slot(name, description)


def test_slots_view_is_read_only():
    with pytest.raises(TypeError):
        specs.SLOTS["query"] = "changed"
