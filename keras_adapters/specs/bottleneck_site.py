"""`BottleneckSite`: where a bottleneck adapter reads and writes in a block."""

import dataclasses

SITE_KINDS = ("serial", "post_norm", "parallel")


@dataclasses.dataclass(frozen=True)
class BottleneckSite:
    """One place of a bottleneck placement, as data.

    Args:
        name: the site's key in a block; adapter files key its weights as
            `<block path>/<name>/<weight>`.
        kind: how the adapter is wired in, one of:
            - `"serial"`: reads the output `h` of `slot` and returns
              `h + A(h)` (Houlsby's sites; Pfeiffer's in pre-LN blocks).
            - `"post_norm"`: `slot` is a post-LN norm `LN(z)`; returns
              `LN(z + A(LN(z)))`, the block's own norm applied again
              (Pfeiffer's site in post-LN blocks).
            - `"parallel"`: reads the input `x` of the feed-forward branch
              and adds `A(x)` to the branch output (He et al. 2022).
        slot: the slot whose layer the adapter wraps (`"serial"`,
            `"post_norm"`); for `"parallel"`, `None`: the branch comes from
            the spec's `ffn_chain`.
    """

    name: str
    kind: str
    slot: str = None

    def __post_init__(self):
        if self.kind not in SITE_KINDS:
            raise ValueError(f"`kind` must be one of {SITE_KINDS}. Received: kind={self.kind!r}")
        if (self.slot is None) != (self.kind == "parallel"):
            raise ValueError(
                f"A {self.kind!r} site {'takes no' if self.kind == 'parallel' else 'needs a'} "
                f"`slot`. Received: slot={self.slot!r}"
            )
