"""`BackboneSpec`: where adapters go in one KerasHub backbone class, as data."""

import dataclasses
import types

import keras

SLOTS = (
    "attention",  # the self-attention layer (prefix tuning wraps it)
    "query",
    "key",
    "value",
    "attention_output",  # output projection of the attention
    "attention_residual",  # last layer of the attention branch, before the residual add
    "attention_norm",
    "ffn_intermediate",
    "ffn_output",
    "ffn_residual",  # last layer of the feed-forward branch, before the residual add
    "ffn_norm",
)
PROJECTION_SLOTS = ("query", "key", "value", "attention_output", "ffn_intermediate", "ffn_output")
NORM_POSITIONS = ("post", "pre")


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """Declarative description of one KerasHub backbone architecture.

    Adding a backbone to keras-adapters means adding one of these records
    with `keras_adapters.specs.register_backbone_spec`; no code changes.

    Args:
        backbone_class: the KerasHub backbone class, e.g.
            `keras_hub.models.BertBackbone` (subclasses match too).
        blocks: attribute of the backbone listing its transformer blocks.
        slots: semantic slot -> dotted attribute path inside a block, for
            every name in `keras_adapters.specs.SLOTS`.
        ffn_chain: the slots called one after another to compute the
            feed-forward branch (its input is the branch input, its output
            goes to the residual add). Empty if the branch is not a chain
            (e.g. gated FFNs); the parallel adapter then is unsupported.
        norm_position: `"post"` (BERT family: LayerNorm after the residual
            add) or `"pre"` (GPT-2, Llama...).
        attention_kind: how prefix tuning reaches inside the attention;
            `"keras_multi_head_attention"` is the one supported now.
    """

    backbone_class: type
    blocks: str
    slots: dict
    ffn_chain: tuple = ()
    norm_position: str = "post"
    attention_kind: str = "keras_multi_head_attention"

    def __post_init__(self):
        if not (isinstance(self.backbone_class, type) and issubclass(self.backbone_class, keras.Model)):
            raise ValueError(
                "`backbone_class` must be a Keras model class. "
                f"Received: backbone_class={self.backbone_class!r}"
            )
        missing = [s for s in SLOTS if s not in self.slots]
        unknown = [s for s in self.slots if s not in SLOTS]
        if missing or unknown:
            raise ValueError(
                f"`slots` must name exactly {list(SLOTS)}. Missing: {missing}; unknown: {unknown}. "
                f"Received: slots={dict(self.slots)!r}"
            )
        bad = {s: p for s, p in self.slots.items() if not _is_dotted_path(p)}
        if bad:
            raise ValueError(f"`slots` values must be dotted attribute paths. Received: {bad!r}")
        if any(s not in SLOTS for s in self.ffn_chain):
            raise ValueError(
                f"`ffn_chain` must list slot names. Received: ffn_chain={self.ffn_chain!r}"
            )
        if self.norm_position not in NORM_POSITIONS:
            raise ValueError(
                f"`norm_position` must be one of {NORM_POSITIONS}. "
                f"Received: norm_position={self.norm_position!r}"
            )
        object.__setattr__(self, "slots", types.MappingProxyType(dict(self.slots)))
        object.__setattr__(self, "ffn_chain", tuple(self.ffn_chain))

    @property
    def name(self):
        return self.backbone_class.__name__

    def get_blocks(self, backbone):
        blocks = getattr(backbone, self.blocks, None)
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise ValueError(
                f"{self.name} spec expects `backbone.{self.blocks}` to list the transformer blocks; "
                f"found {blocks!r}."
            )
        return list(blocks)

    def slot_owner(self, block, slot):
        """Returns `(owner_layer, attribute)` holding `slot` inside `block`."""
        *parents, attribute = self.slots[slot].split(".")
        owner = block
        for parent in parents:
            owner = getattr(owner, parent)
        return owner, attribute


def _is_dotted_path(path):
    return isinstance(path, str) and all(part.isidentifier() for part in path.split("."))
