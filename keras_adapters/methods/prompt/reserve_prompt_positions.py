"""`reserve_prompt_positions`: prompt positions for inputs packed outside the model."""

import keras

from keras_adapters.methods.prompt.prompt_embedding import PromptEmbedding
from keras_adapters.methods.prompt.virtual_tokens import insert_virtual_tokens
from keras_adapters.planning.model_context import ModelContext


def reserve_prompt_positions(
    model, x, y=None, sample_weight=None, start_tokens=1, token_targets=False
):
    """Inserts the virtual tokens of the model's active prompt adapters into packed inputs.

    A KerasHub task with a preprocessor does this itself (its preprocessor
    becomes a `keras_adapters.layers.PromptPreprocessor`); use this for a bare
    backbone or for data tokenised and packed elsewhere. The virtual tokens go
    after the first `start_tokens` positions, with padding mask 1.

    Args:
        model: a model with an active `keras_adapters.PromptConfig` adapter.
        x: dict of packed inputs (`token_ids`, `padding_mask`, ...).
        y: targets, or `None`.
        sample_weight: sample weights, or `None`.
        start_tokens: leading positions that stay in front of the prompt
            (1 for the `[CLS]` / BOS token of a KerasHub preprocessor).
        token_targets: `y` holds next-token targets (causal LM): keep them
            aligned, weighting the positions that predict a virtual token 0.

    Returns:
        The inputs (and `y`, `sample_weight` when given) with `P` more positions.

    Example:
    ```python
    keras_adapters.add_adapter(backbone, keras_adapters.PromptConfig(num_virtual_tokens=4))
    x = keras_adapters.reserve_prompt_positions(backbone, preprocessor(["a gripping film"]))
    outputs = backbone(x)
    ```
    """
    context = ModelContext(model)
    owner, attribute = context.token_embedding_slot()
    wrapper = getattr(owner, attribute)
    if not isinstance(wrapper, PromptEmbedding) or not wrapper.active_adapters:
        raise ValueError(
            f"Model {model.name!r} has no active prompt-tuning adapter, so there are no prompt "
            "positions to reserve. Add one with `keras_adapters.PromptConfig`."
        )
    start_tokens = int(start_tokens)
    if start_tokens < 0:
        raise ValueError(f"`start_tokens` must be >= 0. Received: start_tokens={start_tokens}")
    x, y, sample_weight = insert_virtual_tokens(
        x,
        first_id=wrapper.vocabulary_size,
        count=wrapper.num_virtual_tokens(),
        start_tokens=start_tokens,
        y=y,
        sample_weight=sample_weight,
        token_targets=bool(token_targets),
    )
    return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
