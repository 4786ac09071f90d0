"""`AdapterBankLayout`: what an adapter bank holds, slot by slot, and how an adapter fills a slot.

The layout is plain data, written into the SavedModel's metadata, so that
`keras_adapters.export.add_to_adapter_bank` can check and place a new adapter
with nothing but the SavedModel and the adapter file.
"""

import dataclasses

import numpy as np

# The adapter name that selects the base model (slot 0); never a valid adapter name.
BASE_ADAPTER = ""
NAMES_VARIABLE = "adapter_names"
# The SavedModel attribute listing the bank variables, in `variable_keys()` order.
BANK_COLLECTION = "adapter_bank"
HEAD_PREFIX = "head/"


@dataclasses.dataclass
class AdapterBankLayout:
    """Sites, shapes and slots of an adapter bank.

    Slot 0 is the base model (zero factors, the model's own head); slots
    `1..max_adapters` hold adapters or are free (name `""`).

    Attributes:
        backbone: the backbone spec name adapters must come from.
        max_adapters: adapter slots besides the base slot.
        max_rank: the rank every factor is zero-padded to.
        sites: `{location: {"equation", "a_shape", "b_shape"}}`: the layer's
            einsum equation and the kernel input / output axis sizes (rank
            excluded) of `A` / `B`.
        head: `{variable path: shape}` of the banked classifier head.
        names: the adapter name of each slot (`""`: base or free).
        ranks: the rank of each slot's adapter (0 for base and free slots).
        own_heads: whether each slot's adapter brought its own head.
    """

    backbone: str
    max_adapters: int
    max_rank: int
    sites: dict
    head: dict
    names: list = None
    ranks: list = None
    own_heads: list = None

    def __post_init__(self):
        slots = self.max_adapters + 1
        self.names = list(self.names or [BASE_ADAPTER] * slots)
        self.ranks = list(self.ranks or [0] * slots)
        self.own_heads = list(self.own_heads or [False] * slots)

    @property
    def slots(self):
        return self.max_adapters + 1

    @property
    def adapters(self):
        """`{name: slot}` of the adapters in the bank."""
        return {name: slot for slot, name in enumerate(self.names) if slot and name}

    def variable_keys(self):
        """The bank's variables, in the order the SavedModel's `adapter_bank` collection lists them."""
        keys = [NAMES_VARIABLE]
        for location in self.sites:
            keys += [f"{location}/lora_a", f"{location}/lora_b"]
        return keys + [HEAD_PREFIX + path for path in self.head]

    def variable_shapes(self):
        """`{key: shape}` of every bank variable, the slot axis first."""
        shapes = {NAMES_VARIABLE: (self.slots,)}
        for location, site in self.sites.items():
            shapes[f"{location}/lora_a"] = (self.slots, *site["a_shape"], self.max_rank)
            shapes[f"{location}/lora_b"] = (self.slots, self.max_rank, *site["b_shape"])
        for path, shape in self.head.items():
            shapes[HEAD_PREFIX + path] = (self.slots, *shape)
        return shapes

    def bytes_per_slot(self):
        """Bytes of float32 bank variables one adapter slot takes."""
        return sum(
            4 * int(np.prod(shape[1:]))
            for key, shape in self.variable_shapes().items()
            if key != NAMES_VARIABLE
        )

    # === Placing an adapter ===

    def check_adapter(self, adapter):
        """Raises a `ValueError` naming everything that keeps `adapter` out of the bank.

        Returns:
            The free slot it goes to.
        """
        if adapter.name in self.adapters:
            raise ValueError(
                f"The bank already holds an adapter named {adapter.name!r} (slot "
                f"{self.adapters[adapter.name]}); pass another `name`. "
                f"Adapters: {list(self.adapters)}"
            )
        free = [slot for slot in range(1, self.slots) if not self.names[slot]]
        if not free:
            raise ValueError(
                f"The bank is full: its {self.max_adapters} adapter slots hold "
                f"{list(self.adapters)}. Export a new bank with a larger `max_adapters` "
                f"to add {adapter.name!r}."
            )
        problems = []
        if adapter.backbone != self.backbone:
            problems.append(
                f"it was trained on a {adapter.backbone}, the bank on a {self.backbone}"
            )
        if adapter.rank > self.max_rank:
            problems.append(f"its rank {adapter.rank} is above the bank's max_rank={self.max_rank}")
        for location, (a, b) in adapter.factors.items():
            site = self.sites.get(location)
            if site is None:
                problems.append(f"site {location!r} has no bank (bank sites: {list(self.sites)})")
                continue
            expected_a = (*site["a_shape"], adapter.rank)
            expected_b = (adapter.rank, *site["b_shape"])
            if a.shape != expected_a or b.shape != expected_b:
                problems.append(
                    f"site {location!r}: lora_a {a.shape}, lora_b {b.shape}; the bank expects "
                    f"{expected_a}, {expected_b} for rank {adapter.rank}"
                )
        if adapter.head:
            expected = {path: tuple(shape) for path, shape in self.head.items()}
            found = {path: value.shape for path, value in adapter.head.items()}
            if found != expected:
                problems.append(
                    f"its `modules_to_save` weights {found} are not a copy of the banked head "
                    f"{expected} (banks keep a per-adapter copy of the output layer only)"
                )
        if problems:
            raise ValueError(
                f"Adapter {adapter.name!r} ({adapter.source}) does not fit the bank: "
                + "; ".join(problems)
                + "."
            )
        return free[0]

    def slot_values(self, adapter, base_head):
        """`{variable key: value}` of one slot holding `adapter`.

        `A` and `B` are zero-padded from the adapter's rank to `max_rank`,
        and the adapter's scale is folded into `B`; sites the adapter does
        not adapt get zeros. An adapter without its own head gets `base_head`.
        """
        values = {}
        for location, site in self.sites.items():
            a = np.zeros((*site["a_shape"], self.max_rank), "float32")
            b = np.zeros((self.max_rank, *site["b_shape"]), "float32")
            if location in adapter.factors:
                lora_a, lora_b = adapter.factors[location]
                a[..., : adapter.rank] = lora_a
                b[: adapter.rank] = lora_b * np.float32(adapter.scale)
            values[f"{location}/lora_a"], values[f"{location}/lora_b"] = a, b
        head = adapter.head or base_head
        for path in self.head:
            values[HEAD_PREFIX + path] = np.asarray(head[path], "float32")
        return values

    def place(self, slot, adapter):
        """Records `adapter` in `slot`."""
        self.names[slot] = adapter.name
        self.ranks[slot] = adapter.rank
        self.own_heads[slot] = bool(adapter.head)

    # === Metadata ===

    def to_json(self):
        return {
            **dataclasses.asdict(self),
            "slots": self.slots,
            "base_adapter": BASE_ADAPTER,
            "variables": self.variable_keys(),
            "bytes_per_slot": self.bytes_per_slot(),
        }

    @classmethod
    def from_json(cls, data):
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})
