"""Bottleneck placements as data: which sites Pfeiffer, Houlsby and parallel use.

The sites follow AdapterHub's definitions (`SeqBnConfig`, `DoubleSeqBnConfig`,
`ParBnConfig`); in pre-LN blocks (GPT-2, Llama...) the sites are the
sublayer outputs before their residual adds (docs/methods.md).
"""

import types

from keras_adapters.specs.bottleneck_site import BottleneckSite

ATTENTION_OUTPUT_SITE = BottleneckSite("attention_residual", "serial", "attention_residual")
FFN_OUTPUT_SITE = BottleneckSite("ffn_residual", "serial", "ffn_residual")
FFN_NORM_SITE = BottleneckSite("ffn_norm", "post_norm", "ffn_norm")
FFN_PARALLEL_SITE = BottleneckSite("ffn_chain", "parallel")

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
    sites = BOTTLENECK_PLACEMENTS[placement][spec.norm_position]
    needed_by = f"The {placement} adapter placement ({spec.norm_position}-LN blocks)"
    for site in sites:
        if site.kind == "parallel":
            if not spec.ffn_chain:
                raise ValueError(
                    f"{needed_by} needs a feed-forward branch that is a chain of sublayers; "
                    f"the {spec.name} spec declares none (`ffn_chain`)."
                )
        else:
            spec.require_slots([site.slot], needed_by)
    return sites
