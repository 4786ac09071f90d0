"""Bottleneck placements as data: which sites Pfeiffer, Houlsby and parallel use.

The sites follow AdapterHub's definitions (`SeqBnConfig`, `DoubleSeqBnConfig`,
`ParBnConfig`); in pre-LN blocks (GPT-2, Llama...) the sites are the
sublayer outputs before their residual adds (docs/methods.md). A parallel
adapter reads the feed-forward input: through the spec's `ffn_chain` where
the branch is a chain, else (gated FFNs) at the input of the gate projection.
"""

import types

from keras_adapters.specs.bottleneck_site import BottleneckSite

ATTENTION_OUTPUT_SITE = BottleneckSite("attention_residual", "serial", "attention_residual")
FFN_OUTPUT_SITE = BottleneckSite("ffn_residual", "serial", "ffn_residual")
FFN_NORM_SITE = BottleneckSite("ffn_norm", "post_norm", "ffn_norm")
FFN_PARALLEL_SITE = BottleneckSite("ffn_chain", "parallel")
GATED_FFN_PARALLEL_SITE = BottleneckSite(
    "ffn_parallel", "parallel_tap", slot="ffn_residual", reads="ffn_gate"
)

BOTTLENECK_PLACEMENTS = types.MappingProxyType(
    {
        "pfeiffer": {"post": (FFN_NORM_SITE,), "pre": (FFN_OUTPUT_SITE,)},
        "houlsby": {
            "post": (ATTENTION_OUTPUT_SITE, FFN_OUTPUT_SITE),
            "pre": (ATTENTION_OUTPUT_SITE, FFN_OUTPUT_SITE),
        },
        "parallel": {"post": (FFN_PARALLEL_SITE,), "pre": (FFN_PARALLEL_SITE,)},
    }
)


def bottleneck_sites(placement, spec):
    """The sites of `placement` in blocks of `spec`, checked against the spec.

    Args:
        placement: `"pfeiffer"`, `"houlsby"` or `"parallel"`.
        spec: a `keras_adapters.specs.BackboneSpec`.

    Returns:
        A tuple of `keras_adapters.specs.BottleneckSite`.

    Example:
    ```python
    spec = keras_adapters.specs.get_backbone_spec(backbone)
    keras_adapters.specs.bottleneck_sites("houlsby", spec)
    ```
    """
    if placement not in BOTTLENECK_PLACEMENTS:
        raise ValueError(
            f"`placement` must be one of {list(BOTTLENECK_PLACEMENTS)}. "
            f"Received: placement={placement!r}"
        )
    needed_by = f"The {placement} adapter placement ({spec.norm_position}-LN blocks)"
    sites = []
    for site in BOTTLENECK_PLACEMENTS[placement][spec.norm_position]:
        if site.kind == "parallel" and not spec.ffn_chain:
            if not spec.has_slot("ffn_gate"):
                raise ValueError(
                    f"{needed_by} needs a feed-forward branch that is a chain of sublayers, or a "
                    f"gated feed-forward (`ffn_gate`); the {spec.name} spec declares neither."
                )
            site = GATED_FFN_PARALLEL_SITE
        spec.require_slots(site.slots, needed_by)
        sites.append(site)
    return tuple(sites)
