"""`masked_lm_for`: KerasHub's masked-LM task around an encoder backbone (two-stage training)."""

import math

import keras_hub

from keras_adapters.core import validation


def masked_lm_classes():
    """`{backbone class: masked-LM task class}` for every KerasHub `MaskedLM` imported.

    A task class counts when it names its own `backbone_cls` (KerasHub's
    `BertMaskedLM`, `RobertaMaskedLM`, ...; subclasses that only add
    behaviour, such as an adapted model's class, inherit it and are skipped).
    """
    found, pending = {}, [keras_hub.models.MaskedLM]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        backbone_class = vars(cls).get("backbone_cls")
        if backbone_class is not None and "preprocessor_cls" in vars(cls):
            found.setdefault(backbone_class, cls)
    return found


def masked_lm_for(
    backbone,
    tokenizer=None,
    sequence_length=128,
    mask_selection_rate=0.15,
    mask_selection_length=None,
):
    """Wraps `backbone` (the same object) in KerasHub's masked-LM task for its architecture.

    Stage 1 of two-stage training trains an adapter on unlabelled in-domain
    text with the encoder's own pre-training objective. This returns the
    KerasHub task for that objective (`keras_hub.models.BertMaskedLM` for a
    `BertBackbone`, `RobertaMaskedLM` for a `RobertaBackbone`, ...) around
    `backbone` itself, so an adapter added to `backbone` is the one the
    masked LM trains, and the same backbone object (or the adapter saved
    from it) serves the task model of stage 2.

    The masked-LM head is always new: its dense layer, layer norm and output
    bias start from KerasHub's initialisers (the output projection is the
    backbone's token embedding, transposed). Add the adapter to `backbone`,
    not to the returned task: the head, outside the backbone, then trains
    along with the adapter, while the embedding it shares stays frozen, and
    `keras_adapters.save_adapter(backbone, ...)` writes the adapter without
    the head.

    With a tokenizer, the task gets KerasHub's masked-LM preprocessor, which
    masks `mask_selection_rate` of the tokens of every text anew each time
    it is read (80% become the mask token, 10% a random token, 10% stay).
    In a `tf.data` pipeline, as in `fit`, it selects exactly
    `ceil(mask_selection_rate * maskable tokens)` positions, so by default
    the model predicts at most `ceil(sequence_length * mask_selection_rate)`
    positions per text instead of KerasHub's default of 96: at sequence
    length 48, 12 times fewer vocabulary-sized output rows to compute, and
    no masked token lost. (KerasHub's pure-Python path, used outside
    `tf.data`, draws each token with probability `mask_selection_rate`; the
    few texts that draw more than the limit keep a random subset.)

    Args:
        backbone: a KerasHub encoder backbone with a masked-LM task in
            KerasHub (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ALBERT,
            DeBERTa-v3, FNet, RoFormer-v2), or a subclass of one such as
            `keras_adapters.models.ExactGeluBertBackbone`.
        tokenizer: optional `keras_hub.tokenizers.Tokenizer` of the
            backbone. Without one the task has no preprocessor and takes
            preprocessed inputs (`token_ids`, `padding_mask`, ...,
            `mask_positions`).
        sequence_length: int > 0. Tokens per text, special tokens
            included. Defaults to `128`.
        mask_selection_rate: float in (0, 1]. Share of the tokens to
            predict. Defaults to `0.15`.
        mask_selection_length: optional int > 0. The most positions
            predicted per text. Defaults to
            `ceil(sequence_length * mask_selection_rate)`.

    Returns:
        A `keras_hub.models.MaskedLM` (e.g. `keras_hub.models.BertMaskedLM`)
        whose `backbone` is `backbone`.

    Example:
    ```python
    backbone, tokenizer = keras_adapters.assets.load_backbone_preset("minilm_l6")
    masked_lm = keras_adapters.models.masked_lm_for(backbone, tokenizer, sequence_length=48)
    keras_adapters.add_adapter(backbone, keras_adapters.PfeifferConfig(), "domain")
    masked_lm.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=True)
    masked_lm.fit(unlabelled_texts, batch_size=32, epochs=1)
    keras_adapters.save_adapter(backbone, "domain_adapter")
    ```
    """
    classes = masked_lm_classes()
    task_class = next((classes[c] for c in type(backbone).__mro__ if c in classes), None)
    if task_class is None:
        supported = sorted(c.__name__ for c in classes)
        raise ValueError(
            "`backbone` must be a KerasHub encoder backbone with a masked-LM task in KerasHub "
            f"({', '.join(supported)}, or a subclass). Received: backbone="
            f"{type(backbone).__name__}"
        )
    sequence_length = validation.check_positive_int("sequence_length", sequence_length)
    if (
        isinstance(mask_selection_rate, bool)
        or not isinstance(mask_selection_rate, (int, float))
        or not 0 < mask_selection_rate <= 1
    ):
        raise ValueError(
            "`mask_selection_rate` must be a number in (0, 1]. Received: "
            f"mask_selection_rate={mask_selection_rate!r}"
        )
    if mask_selection_length is None:
        mask_selection_length = math.ceil(sequence_length * mask_selection_rate)
    validation.check_positive_int("mask_selection_length", mask_selection_length)
    preprocessor = None
    if tokenizer is not None:
        preprocessor = task_class.preprocessor_cls(
            tokenizer,
            sequence_length=sequence_length,
            mask_selection_rate=float(mask_selection_rate),
            mask_selection_length=int(mask_selection_length),
        )
    return task_class(backbone, preprocessor=preprocessor)
