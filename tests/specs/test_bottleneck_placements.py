"""Bottleneck placements are data: which sites each placement uses, per norm position."""

import dataclasses

import keras_hub
import pytest

from keras_adapters import specs


def _spec(norm_position="post", ffn_chain=None, slots=None):
    base = specs.get_backbone_spec(
        keras_hub.models.BertBackbone(
            vocabulary_size=10,
            num_layers=1,
            num_heads=1,
            hidden_dim=4,
            intermediate_dim=4,
            max_sequence_length=4,
        )
    )
    return dataclasses.replace(
        base,
        norm_position=norm_position,
        ffn_chain=base.ffn_chain if ffn_chain is None else ffn_chain,
        slots=dict(base.slots) if slots is None else slots,
    )


@pytest.mark.parametrize(
    "placement, norm_position, expected",
    [
        ("pfeiffer", "post", [("ffn_norm", "post_norm", "ffn_norm")]),
        ("pfeiffer", "pre", [("ffn_residual", "serial", "ffn_residual")]),
        (
            "houlsby",
            "post",
            [
                ("attention_residual", "serial", "attention_residual"),
                ("ffn_residual", "serial", "ffn_residual"),
            ],
        ),
        (
            "houlsby",
            "pre",
            [
                ("attention_residual", "serial", "attention_residual"),
                ("ffn_residual", "serial", "ffn_residual"),
            ],
        ),
        ("parallel", "post", [("ffn_chain", "parallel", None)]),
    ],
)
def test_sites_per_placement(placement, norm_position, expected):
    sites = specs.bottleneck_sites(placement, _spec(norm_position))
    assert [(s.name, s.kind, s.slot) for s in sites] == expected


def test_parallel_needs_a_feed_forward_chain():
    with pytest.raises(
        ValueError, match="chain of sublayers, or a gated feed-forward .*declares neither"
    ):
        specs.bottleneck_sites("parallel", _spec(ffn_chain=()))


def test_a_missing_slot_is_named():
    slots = {"query": "_self_attention_layer._query_dense"}
    with pytest.raises(
        ValueError,
        match=r"houlsby adapter placement .* needs the block slots \['attention_residual'\]",
    ):
        specs.bottleneck_sites("houlsby", _spec(ffn_chain=(), slots=slots))


def test_unknown_placement_and_bad_sites_are_refused():
    with pytest.raises(ValueError, match="Received: placement='compacter'"):
        specs.bottleneck_sites("compacter", _spec())
    with pytest.raises(ValueError, match="Received: kind='diagonal'"):
        specs.BottleneckSite("x", "diagonal", "ffn_output")
    with pytest.raises(ValueError, match="needs a `slot`"):
        specs.BottleneckSite("x", "serial")
    with pytest.raises(ValueError, match="takes no `slot`"):
        specs.BottleneckSite("x", "parallel", "ffn_output")
