"""`BottleneckSite`: where a bottleneck adapter reads and writes in a block."""

import dataclasses

SITE_KINDS = ("serial", "post_norm", "parallel", "parallel_tap")


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
              and adds `A(x)` to the branch output (He et al. 2022); the
              branch is the spec's `ffn_chain`.
            - `"parallel_tap"`: the same for a feed-forward that is not a
              chain (a gated FFN calls its gate and up projections on the
              same input): the adapter reads the input of the `reads` slot
              and adds to the output of `slot`.
        slot: the slot whose layer the adapter wraps; `None` for
            `"parallel"`.
        reads: for `"parallel_tap"`, the slot whose input the adapter reads.
    """

    name: str
    kind: str
    slot: str = None
    reads: str = None

    def __post_init__(self):
        if self.kind not in SITE_KINDS:
            raise ValueError(f"`kind` must be one of {SITE_KINDS}. Received: kind={self.kind!r}")
        if (self.slot is None) != (self.kind == "parallel"):
            raise ValueError(
                f"A {self.kind!r} site {'takes no' if self.kind == 'parallel' else 'needs a'} "
                f"`slot`. Received: slot={self.slot!r}"
            )
        if (self.reads is None) != (self.kind != "parallel_tap"):
            raise ValueError(
                f"`reads` names the slot whose input a 'parallel_tap' site reads, and only "
                f"such a site. Received: kind={self.kind!r}, reads={self.reads!r}"
            )

    @property
    def slots(self):
        """The slots the site needs from a spec."""
        return tuple(s for s in (self.slot, self.reads) if s is not None)
