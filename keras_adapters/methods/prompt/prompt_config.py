"""`PromptConfig`: prompt tuning (Lester et al. 2021)."""

import dataclasses
import numbers

from keras_adapters.core import validation
from keras_adapters.core.adapter_config import AdapterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class PromptConfig(AdapterConfig):
    """Learned input embeddings (a soft prompt) in front of every sequence.

    The sequence gets `num_virtual_tokens` positions more: right after the
    start token (`[CLS]`, `<s>`, BOS) where the preprocessor adds one, else at
    the very start, come `P` virtual tokens whose input embeddings are the
    adapter's trained vectors; the real tokens follow, each at its position
    plus `P` (absolute and rotary positions alike). The virtual positions are
    unmasked, so every real token attends to them; padding stays masked.
    Everything else is frozen.

    On a KerasHub task with a preprocessor (a text classifier, a causal LM)
    the preprocessor reserves the positions itself, so `fit`, `predict`,
    `generate` and exported serving graphs take raw text as before. A bare
    backbone, or data tokenised elsewhere, needs the positions reserved with
    `keras_adapters.reserve_prompt_positions`.

    Args:
        num_virtual_tokens: prompt length `P`, > 0.
        init_text: start from the token embeddings of this text, tokenised
            by the model's tokenizer (so the model needs a preprocessor) and
            repeated to fill `P` tokens; it may not be longer than `P` tokens.
        init_token_ids: the same from token ids, at most `P` of them.
            Without either, the prompt starts as the embeddings of `P`
            vocabulary tokens drawn uniformly at random (Lester et al.'s
            "sampled vocabulary" initialisation, seeded by Keras' global seed).
        modules_to_save: see `keras_adapters.AdapterConfig`.

    Example:
    ```python
    config = keras_adapters.PromptConfig(
        num_virtual_tokens=20, init_text="Classify the sentiment of this review:"
    )
    keras_adapters.add_adapter(classifier, config, adapter_name="sst2")
    ```
    """

    method = "prompt"

    num_virtual_tokens: int = 20
    init_text: str = None
    init_token_ids: tuple = None

    def __post_init__(self):
        super().__post_init__()
        if self.layers is not None:
            raise ValueError(
                "Prompt tuning adapts the input embeddings, not blocks: `layers` must be None. "
                f"Received: layers={list(self.layers)}"
            )
        length = validation.check_positive_int("num_virtual_tokens", self.num_virtual_tokens)
        if self.init_text is not None and self.init_token_ids is not None:
            raise ValueError(
                "Give `init_text` or `init_token_ids`, not both. Received: "
                f"init_text={self.init_text!r}, init_token_ids={self.init_token_ids!r}"
            )
        if self.init_text is not None and (
            not isinstance(self.init_text, str) or not self.init_text.strip()
        ):
            raise ValueError(
                f"`init_text` must be a non-empty string. Received: init_text={self.init_text!r}"
            )
        if self.init_token_ids is not None:
            ids = self.init_token_ids
            if (
                isinstance(ids, (str, bytes))
                or not isinstance(ids, (list, tuple))
                or not 0 < len(ids) <= length
                or not all(
                    isinstance(i, numbers.Integral) and not isinstance(i, bool) and i >= 0
                    for i in ids
                )
            ):
                raise ValueError(
                    f"`init_token_ids` must be 1 to num_virtual_tokens={length} token ids "
                    f"(integers >= 0). Received: init_token_ids={ids!r}"
                )
            object.__setattr__(self, "init_token_ids", tuple(int(i) for i in ids))
