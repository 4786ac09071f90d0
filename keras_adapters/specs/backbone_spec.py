"""`BackboneSpec`: where adapters go in one KerasHub backbone class, as data."""

import dataclasses
import types
import warnings

import keras

from keras_adapters.specs.slots import SLOTS

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
        slots: slot name -> dotted attribute path inside a block, for the
            slots of `keras_adapters.specs.SLOTS` this architecture has. A
            method that needs a slot the spec lacks says so when it is added.
        ffn_chain: the slots called one after another to compute the
            feed-forward branch (its input is the branch input, its output
            goes to the residual add). Empty if the branch is not a chain
            (a gated FFN calls gate and up projections on the same input).
        norm_position: `"post"` (BERT family: norm after the residual add)
            or `"pre"` (GPT-2, Llama...: norm before each sublayer).
        attention_kind: deprecated and ignored; how adapters reach inside an
            attention layer is looked up by its class in
            `keras_adapters.attention`.
        token_embedding: dotted attribute path from the backbone to its token
            embedding layer (`keras.layers.Embedding`), where prompt tuning
            puts its learned input embeddings.
    """

    backbone_class: type
    blocks: str
    slots: dict
    ffn_chain: tuple = ()
    norm_position: str = "post"
    attention_kind: str = None
    token_embedding: str = "token_embedding"

    def __post_init__(self):
        if not (
            isinstance(self.backbone_class, type) and issubclass(self.backbone_class, keras.Model)
        ):
            raise ValueError(
                "`backbone_class` must be a Keras model class. "
                f"Received: backbone_class={self.backbone_class!r}"
            )
        if not isinstance(self.blocks, str) or not self.blocks.isidentifier():
            raise ValueError(
                f"`blocks` must be an attribute name. Received: blocks={self.blocks!r}"
            )
        if not isinstance(self.slots, dict) or not self.slots:
            raise ValueError(
                f"`slots` must be a non-empty dict of slot name to attribute path. "
                f"Received: slots={self.slots!r}"
            )
        unknown = [s for s in self.slots if s not in SLOTS]
        if unknown:
            raise ValueError(
                f"`slots` names unknown slots {unknown}. Valid slots: {list(SLOTS)} (add one "
                "with `keras_adapters.specs.register_slot`). "
                f"Received: slots={dict(self.slots)!r}"
            )
        bad = {s: p for s, p in self.slots.items() if not _is_dotted_path(p)}
        if bad:
            raise ValueError(f"`slots` values must be dotted attribute paths. Received: {bad!r}")
        if not _is_dotted_path(self.token_embedding):
            raise ValueError(
                "`token_embedding` must be a dotted attribute path. "
                f"Received: token_embedding={self.token_embedding!r}"
            )
        missing = [s for s in self.ffn_chain if s not in self.slots]
        if missing:
            raise ValueError(
                f"`ffn_chain` must list slots of this spec; {missing} are not in `slots`. "
                f"Received: ffn_chain={self.ffn_chain!r}"
            )
        if self.norm_position not in NORM_POSITIONS:
            raise ValueError(
                f"`norm_position` must be one of {NORM_POSITIONS}. "
                f"Received: norm_position={self.norm_position!r}"
            )
        if self.attention_kind is not None:
            warnings.warn(
                "`BackboneSpec(attention_kind=...)` is deprecated and ignored: attention layers "
                "are looked up by class in `keras_adapters.attention`.",
                DeprecationWarning,
                stacklevel=3,
            )
        object.__setattr__(self, "slots", types.MappingProxyType(dict(self.slots)))
        object.__setattr__(self, "ffn_chain", tuple(self.ffn_chain))

    @property
    def name(self):
        return self.backbone_class.__name__

    def has_slot(self, slot):
        return slot in self.slots

    def require_slots(self, slots, needed_by):
        """Raises a `ValueError` naming the slots `needed_by` needs and this spec lacks."""
        missing = [s for s in slots if s not in self.slots]
        if missing:
            raise ValueError(
                f"{needed_by} needs the block slots {missing}, which the {self.name} spec does "
                f"not define. Slots of {self.name}: {list(self.slots)}."
            )

    def slot_attributes(self, slot):
        """The attribute names leading from a block to `slot`, e.g. `["_self_attention_layer", "_query_dense"]`."""
        self.require_slots([slot], f"Slot {slot!r}")
        return self.slots[slot].split(".")

    def get_blocks(self, backbone):
        """The backbone's blocks, in order; nested groups (ALBERT) are flattened.

        A block that the backbone calls several times (ALBERT shares its
        layers across depth) appears once, so its adapters are shared too.
        """
        blocks = getattr(backbone, self.blocks, None)
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise ValueError(
                f"{self.name} spec expects `backbone.{self.blocks}` to list the transformer blocks; "
                f"found {blocks!r}."
            )
        flat = []
        for block in blocks:
            flat.extend(block if isinstance(block, (list, tuple)) else [block])
        return flat


def _is_dotted_path(path):
    return isinstance(path, str) and all(part.isidentifier() for part in path.split("."))
