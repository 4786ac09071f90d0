"""`ModelContext`: the backbone, its spec and its blocks, found once per call."""

import keras
import keras_hub

from keras_adapters.core.adapter_wrapper import AdapterWrapper
from keras_adapters.core.layer_chain import LayerChain
from keras_adapters.core.moved_slot import MovedSlot
from keras_adapters.planning.layer_tree import innermost, walk
from keras_adapters.specs.registry import get_backbone_spec


class ModelContext:
    """Everything the rewrite needs to know about one model.

    Slot lookup lives here and only here: `slot` follows the spec's
    attribute path through any wrappers and into a feed-forward `LayerChain`.
    Two sites lie outside the blocks: the backbone's token embedding and,
    for a KerasHub task, its preprocessor (prompt tuning uses both).

    Args:
        model: a KerasHub backbone, a KerasHub task (or any Keras model)
            that contains exactly one backbone.
        restoring: the adapter being planned gets its weights from a file
            next (a `.keras` load replaying it, `keras_adapters.load_adapter`),
            so methods may skip initialisation that needs more than shapes
            (prompt tuning's `init_text` needs a tokenizer whose vocabulary a
            `.keras` load restores only later).
    """

    def __init__(self, model, restoring=False):
        if not isinstance(model, keras.Model):
            raise ValueError(
                "`model` must be a KerasHub backbone or a Keras model containing one. "
                f"Received: model={model!r}"
            )
        self.root = model
        self.restoring = bool(restoring)
        self.backbone = find_backbone(model)
        self.spec = get_backbone_spec(self.backbone)
        self.blocks = self.spec.get_blocks(self.backbone)

    @property
    def hidden_dim(self):
        return self.backbone.hidden_dim

    def block_indices(self, layers):
        """Validates `layers` (block indices, negatives from the end) -> sorted indices."""
        count = len(self.blocks)
        if layers is None:
            return list(range(count))
        bad = [i for i in layers if not -count <= i < count]
        if bad:
            raise ValueError(
                f"`layers` must hold block indices in [{-count}, {count - 1}] "
                f"({self.spec.name} has {count} blocks). Received: layers={list(layers)}"
            )
        return sorted({i % count for i in layers})

    def slot(self, block, slot, follow_moved=True):
        """Returns `(owner, attribute)` currently holding `slot` of `block`.

        Follows wrappers on the way (a wrapped attention still owns its
        projections) and, unless `follow_moved=False`, slots that moved into
        a feed-forward `LayerChain` (else: where the `MovedSlot` stands).
        """
        *parents, attribute = self.spec.slot_attributes(slot)
        owner = block
        for parent in parents:
            owner = innermost(getattr(owner, parent))
        if follow_moved and isinstance(getattr(owner, attribute), MovedSlot):
            first_owner, first_attribute = self.slot(block, self.spec.ffn_chain[0])
            chain = innermost(getattr(first_owner, first_attribute))
            if not isinstance(chain, LayerChain):
                raise RuntimeError(f"Slot {slot!r} moved, but no LayerChain holds it.")
            return chain, slot
        return owner, attribute

    def slot_layer(self, block, slot):
        """The layer filling `slot` of `block`, under any wrappers."""
        owner, attribute = self.slot(block, slot)
        return innermost(getattr(owner, attribute))

    def token_embedding_slot(self):
        """`(owner, attribute)` holding the backbone's token embedding (the spec's path)."""
        *parents, attribute = self.spec.token_embedding.split(".")
        owner = self.backbone
        for parent in parents:
            owner = innermost(getattr(owner, parent, None))
        layer = innermost(getattr(owner, attribute, None))
        if not isinstance(layer, keras.layers.Embedding):
            raise ValueError(
                f"The {self.spec.name} spec names `backbone.{self.spec.token_embedding}` as the "
                f"token embedding, but that is {type(layer).__name__}, not a "
                "`keras.layers.Embedding`. Fix the spec's `token_embedding` path."
            )
        return owner, attribute

    def outer_slots(self):
        """`(owner, attribute)` of the sites outside the blocks that exist in this model."""
        slots = []
        try:
            slots.append(self.token_embedding_slot())
        except ValueError:
            pass  # a spec without a usable token embedding has no site there
        if getattr(self.root, "preprocessor", None) is not None:
            slots.append((self.root, "preprocessor"))
        return slots

    def wrappers(self):
        """Yields `(owner, attribute, wrapper)` for every adapter wrapper of the model.

        The sites outside the blocks come first (token embedding, preprocessor),
        then the blocks' in order.
        """
        for owner, attribute in self.outer_slots():
            layer = getattr(owner, attribute)
            if isinstance(layer, AdapterWrapper):
                yield owner, attribute, layer
        for block in self.blocks:
            for owner, attribute, layer in walk(block):
                if isinstance(layer, AdapterWrapper):
                    yield owner, attribute, layer

    def wrappers_of(self, adapter_name):
        return [w for _, _, w in self.wrappers() if adapter_name in w.adapter_names]

    def block_of(self, layer):
        """The block that holds `layer` (or is `layer`)."""
        for block in self.blocks:
            if layer is block or any(layer is sub for sub in block._flatten_layers()):
                return block
        raise ValueError(f"Layer {layer.name!r} is not inside a block of {self.spec.name}.")


def find_backbone(model):
    """The single `keras_hub.models.Backbone` in `model` (or `model` itself)."""
    if isinstance(model, keras_hub.models.Backbone):
        return model
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, keras_hub.models.Backbone):
        return backbone
    found = [
        layer for layer in model._flatten_layers() if isinstance(layer, keras_hub.models.Backbone)
    ]
    if len(found) != 1:
        raise ValueError(
            "`model` must be a KerasHub backbone or contain exactly one; found "
            f"{len(found)} in {model.name!r}. Received: model={type(model).__name__}"
        )
    return found[0]
