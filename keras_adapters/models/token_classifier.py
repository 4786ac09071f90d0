"""`TokenClassifier`: a KerasHub task tagging every word (named-entity recognition)."""

import keras
import keras_hub
import numpy as np

from keras_adapters.models.bio_entities import bio_entities, split_tag

WIDTH_MULTIPLE = 16  # prediction batches are cut to a multiple of this many pieces


@keras.saving.register_keras_serializable(package="keras_adapters")
class TokenClassifier(keras_hub.models.Task):
    """An encoder with a dense layer giving BIO tag logits for every token.

    Works with any KerasHub encoder backbone whose inputs include
    `token_ids` and `padding_mask` and whose output is a sequence (or a dict
    with `"sequence_output"`): BERT, MiniLM, DistilBERT, RoBERTa, XLM-R,
    ELECTRA, ALBERT, DeBERTa-v3. The head, a `Dense` layer named `"logits"`,
    reads every token's output; adapters go into the backbone as for any
    task, e.g. `keras_adapters.add_adapter(tagger,
    keras_adapters.LoraConfig(rank=8, modules_to_save=["logits"]))`.

    With a `keras_adapters.models.TokenClassifierPreprocessor`, `fit` and
    `evaluate` take sentences of words with word-level tag ids (labels land
    on each word's first word piece, the other pieces are masked out of the
    loss by sample weights), and `predict` takes words or raw texts and
    returns per-piece logits `[batch, sequence_length, len(tag_names)]`.
    `predict_tags` and `predict_entities` turn those back into a tag per
    word and into entity spans. Inputs that are already a dict of
    `token_ids`, `padding_mask`, ... skip the preprocessor.

    Args:
        backbone: a KerasHub encoder backbone.
        tag_names: list of str, the tag of each logit: `"O"` and BIO tags
            (`"B-PER"`, `"I-PER"`, ...). `"O"` must be one of them.
        preprocessor: a `keras_adapters.models.TokenClassifierPreprocessor`,
            or `None`.
        dropout: float. Dropout before the head. Defaults to `0.1`.
        **kwargs: forwarded to `keras_hub.models.Task`.

    Example:
    ```python
    backbone, tokenizer = keras_adapters.assets.load_backbone_preset("minilm_l6")
    tagger = keras_adapters.models.TokenClassifier(
        backbone,
        tag_names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
        preprocessor=keras_adapters.models.TokenClassifierPreprocessor(tokenizer),
    )
    tagger.fit(x=[["Peter", "lives", "in", "Paris"]], y=[[1, 0, 0, 3]], batch_size=1)
    tagger.predict_entities(["Peter Blackburn flew to Paris."])
    # [[{"type": "PER", "text": "Peter Blackburn", "start": 0, "end": 15}, ...]]
    ```
    """

    def __init__(self, backbone, tag_names, preprocessor=None, dropout=0.1, **kwargs):
        tag_names = _check_tag_names(tag_names)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="token_dropout"
        )
        self.output_dense = keras.layers.Dense(
            len(tag_names), dtype=backbone.dtype_policy, name="logits"
        )

        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)
        if isinstance(sequence, dict):
            sequence = sequence["sequence_output"]
        outputs = self.output_dense(self.output_dropout(sequence))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.tag_names = tag_names
        self.dropout = dropout

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        weighted_metrics="auto",
        **kwargs,
    ):
        """Compiles with defaults for tagging; `"auto"` picks each.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 5e-5) or an optimizer.
            loss: `"auto"`: sparse cross-entropy on logits, averaged over
                the pieces that carry a label (sample weight > 0).
            weighted_metrics: `"auto"`: accuracy over labelled pieces, i.e.
                the share of words tagged right.
            **kwargs: forwarded to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(5e-5)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            )
        if weighted_metrics == "auto":
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs)

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if isinstance(x, dict):  # token ids already
            return keras.utils.pack_x_y_sample_weight(self._inputs_only(x), y, sample_weight)
        data = super().preprocess_samples(x, y, sample_weight)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return keras.utils.pack_x_y_sample_weight(self._inputs_only(x), y, sample_weight)

    def _inputs_only(self, x):
        """`x` without the entries the backbone does not take (e.g. `segment_ids`)."""
        if not isinstance(x, dict):
            return x
        return {name: x[name] for name in self.input if name in x}

    # === Prediction ===

    def predict_tags(self, sentences, batch_size=32):
        """Tags each word of pre-split sentences.

        Each word takes the tag whose logit is highest at its first word
        piece; a word with no piece in the sequence (cut off by the
        preprocessor's `sequence_length`) is tagged `"O"`. Sentences are
        run in batches of similar length, each cut to a multiple of 16
        pieces, and returned in their order.

        Args:
            sentences: list of lists of str (words).
            batch_size: int. Sentences per batch.

        Returns:
            A list with one list of tags (str) per sentence.

        Example:
        ```python
        tagger.predict_tags([["Peter", "lives", "in", "Paris"]])  # [["B-PER", "O", "O", "B-LOC"]]
        ```
        """
        if self.preprocessor is None:
            raise ValueError(
                "`predict_tags` needs a preprocessor to tokenize words. Set "
                "`tagger.preprocessor = keras_adapters.models.TokenClassifierPreprocessor("
                "tokenizer)`. Received: preprocessor=None"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        x, first_piece = self.preprocessor.tokenize_words(sentences)
        x = {name: keras.ops.convert_to_numpy(value) for name, value in x.items()}
        first_piece = [row.numpy() for row in first_piece]
        lengths = x["padding_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        tags = [None] * len(first_piece)
        outside = self.tag_names.index("O")
        names = np.array(self.tag_names, dtype=object)
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            width = int(lengths[rows].max())
            width = min(-(-width // WIDTH_MULTIPLE) * WIDTH_MULTIPLE, x["token_ids"].shape[1])
            batch = {name: value[rows, :width] for name, value in x.items()}
            logits = keras.ops.convert_to_numpy(self.predict_on_batch(batch))
            for row, index in enumerate(rows):
                positions = first_piece[index]
                best = logits[row, np.maximum(positions, 0)].argmax(axis=-1)
                best = np.where(positions >= 0, best, outside)
                tags[index] = names[best].tolist()
        return tags

    def predict_entities(self, texts, batch_size=32):
        """Finds the entities in raw texts.

        Texts are cut into words by the preprocessor's `split_words`
        (white space and punctuation), words are tagged by `predict_tags`,
        and tags become entity spans by
        `keras_adapters.models.bio_entities` (conlleval's reading: an `I-X`
        that does not continue an `X` entity starts one).

        Args:
            texts: list of str.
            batch_size: int. Texts per batch.

        Returns:
            A list with, per text, a list of entities, each a dict with
            `type` (e.g. `"PER"`), `text` (the entity as it appears in the
            text) and `start`, `end`: character offsets into the text
            (Python string indices, end exclusive), so
            `text[start:end] == entity["text"]`.

        Example:
        ```python
        tagger.predict_entities(["Peter Blackburn flew to Paris."])
        # [[{"type": "PER", "text": "Peter Blackburn", "start": 0, "end": 15},
        #   {"type": "LOC", "text": "Paris", "start": 24, "end": 29}]]
        ```
        """
        if self.preprocessor is None:
            raise ValueError(
                "`predict_entities` needs a preprocessor to split and tokenize texts. "
                "Received: preprocessor=None"
            )
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise ValueError(f"`texts` must be a list of str. Received: texts={texts!r:.80}")
        texts = list(texts)
        if not texts:
            return []
        words, starts, ends = self.preprocessor.split_words(texts)
        sentences = [[w.decode("utf-8") for w in row] for row in words.to_list()]
        tags = self.predict_tags(sentences, batch_size=batch_size)
        results = []
        for text, row_tags, row_starts, row_ends in zip(
            texts, tags, starts.to_list(), ends.to_list()
        ):
            encoded = text.encode("utf-8")
            entities = []
            for kind, first, last in bio_entities(row_tags):
                start = len(encoded[: row_starts[first]].decode("utf-8"))
                end = len(encoded[: row_ends[last - 1]].decode("utf-8"))
                entities.append({"type": kind, "text": text[start:end], "start": start, "end": end})
            results.append(entities)
        return results

    def get_config(self):
        config = super().get_config()
        config.update({"tag_names": list(self.tag_names), "dropout": self.dropout})
        return config


def _check_tag_names(tag_names):
    if isinstance(tag_names, str) or not isinstance(tag_names, (list, tuple)):
        raise ValueError(
            f"`tag_names` must be a list of BIO tags such as ['O', 'B-PER', 'I-PER']. "
            f"Received: tag_names={tag_names!r}"
        )
    names = tuple(tag_names)
    for tag in names:
        split_tag(tag)
    if "O" not in names or len(set(names)) != len(names):
        raise ValueError(
            f"`tag_names` must include 'O' and no tag twice. Received: tag_names={list(names)!r}"
        )
    return names
