"""`AdapterRank`: the rank one adapted matrix ends up with."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class AdapterRank:
    """The rank of one adapted matrix of a rank-adaptive adapter (AdaLoRA).

    Attributes:
        location: the site, e.g. `"transformer_layer_0/self_attention_layer/query"`.
        block: index of the block that holds it.
        projection: the slot it fills (`"query"`, `"ffn_output"`...), else the
            last part of `location`.
        rank: triplets the mask keeps.
        initial_rank: triplets at the start.
    """

    location: str
    block: int
    projection: str
    rank: int
    initial_rank: int
