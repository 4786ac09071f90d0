"""`export_token_classifier`: a token classifier as a SavedModel that returns entities."""

import contextlib
import pathlib

import keras
import tensorflow as tf

from keras_adapters.export.adapter_views import merged_adapters
from keras_adapters.export.entity_spans import entity_spans, tag_table
from keras_adapters.export.saved_model_files import (
    check_export_arguments,
    saved_model_directory,
    write_metadata,
)
from keras_adapters.injection.adapter_state import get_state

ADAPTER_MODES = ("merged", "unmerged")
INPUT_NAME = "texts"
ENTITY_OUTPUTS = ("entity_types", "entity_texts", "entity_starts", "entity_ends", "entity_counts")


def export_token_classifier(model, path, *, adapters="merged", overwrite=False):
    """Writes a token classifier (NER) as a SavedModel that takes raw text and returns entities.

    The `serving_default` signature takes a batch of raw strings (input
    `texts`, `tf.string` `[batch]`). Everything runs in the graph: the
    texts are cut into words with their byte offsets (TensorFlow Text's
    `regex_split_with_offsets`, the preprocessor's `split_words`), the
    words are tokenized and packed, the model gives per-piece logits, each
    word takes the best tag at its first piece, tags become entity spans
    as conlleval reads them, and spans become text and character offsets.
    Outputs, padded per batch to the most entities any text has:

    - `entity_types`: `tf.string` `[batch, max_entities]`, e.g. `b"PER"`;
      `b""` after a text's last entity.
    - `entity_texts`: `tf.string` `[batch, max_entities]`, the entity as it
      appears in the text.
    - `entity_starts`, `entity_ends`: int32 `[batch, max_entities]`,
      character offsets (Unicode code points, as Python string indices;
      end exclusive), -1 after the last entity.
    - `entity_counts`: int32 `[batch]`, the entities of each text.
    - `logits`: float32 `[batch, sequence_length, tags]`, per word piece.

    Adapters are exported `"merged"` (active adapters that can merge, LoRA
    among them, are folded into the kernels while tracing; the model is
    left exactly as it was) or `"unmerged"` (every active adapter runs as
    it is). The SavedModel is written aside and renamed into place.

    Args:
        model: a `keras_adapters.models.TokenClassifier` with a
            `keras_adapters.models.TokenClassifierPreprocessor`.
        path: the SavedModel directory (for TF Serving, a numbered version
            directory such as `models/ner/1`).
        adapters: `"merged"` or `"unmerged"`.
        overwrite: replace a SavedModel written by keras-adapters at `path`.

    Returns:
        The `pathlib.Path` of the SavedModel.

    Example:
    ```python
    keras_adapters.export.export_token_classifier(tagger, "models/ner/1")
    outputs = keras_adapters.export.call_saved_model(
        "models/ner/1", {"texts": ["Peter Blackburn flew to Paris."]}
    )
    outputs["entity_texts"]  # [["Peter Blackburn", "Paris"]]
    ```
    """
    tags = _check_arguments(model, adapters, overwrite)
    path = pathlib.Path(path)
    with saved_model_directory(path, overwrite) as directory:
        archive = keras.export.ExportArchive()
        view = merged_adapters(model) if adapters == "merged" else contextlib.nullcontext(())
        with view as merged:
            endpoint = archive.add_endpoint(
                "serving_default",
                _serving_function(model, tags),
                input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)],
            )
            # Trace now (`write_out` reuses this trace to list variables).
            endpoint.get_concrete_function()
            archive.track(model.preprocessor)
            archive.write_out(str(directory), verbose=False)
        state = get_state(model)
        write_metadata(
            directory,
            model,
            input=INPUT_NAME,
            outputs=[*ENTITY_OUTPUTS, "logits"],
            tag_names=list(model.tag_names),
            entity_types=tags[2],
            sequence_length=int(model.preprocessor.sequence_length),
            adapters=adapters,
            active=list(state.active) if state is not None and state.enabled else [],
            merged=list(merged),
        )
    return path


def _check_arguments(model, adapters, overwrite):
    check_export_arguments(model, overwrite, "token classifier")
    tag_names = getattr(model, "tag_names", None)
    preprocessor = model.preprocessor
    if tag_names is None or not all(
        hasattr(preprocessor, name) for name in ("split_words", "tokenize_words")
    ):
        raise ValueError(
            "`model` must be a `keras_adapters.models.TokenClassifier` (with `tag_names`) "
            "whose preprocessor is a `keras_adapters.models.TokenClassifierPreprocessor`. "
            f"Received: model={type(model).__name__}, preprocessor={type(preprocessor).__name__}"
        )
    if not isinstance(adapters, str) or adapters not in ADAPTER_MODES:
        raise ValueError(
            f"`adapters` must be one of {list(ADAPTER_MODES)}. Received: adapters={adapters!r}"
        )
    kinds, types, type_names = tag_table(tag_names)
    return kinds, types, type_names, list(tag_names).index("O")


def _serving_function(model, tags):
    kinds, types, type_names, outside = tags
    preprocessor = model.preprocessor

    def serve(texts):
        words, byte_starts, byte_ends = preprocessor.split_words(texts)
        x, first_piece = preprocessor.tokenize_words(words)
        x = {name: x[name] for name in model.input}
        logits = tf.cast(model(x, training=False), tf.float32)
        # Each word's tag: the best logit at its first piece ("O" if it has none).
        pieces = first_piece.flat_values
        rows = tf.cast(first_piece.value_rowids(), "int32")
        word_logits = tf.gather_nd(logits, tf.stack([rows, tf.maximum(pieces, 0)], axis=1))
        best = tf.where(pieces >= 0, tf.argmax(word_logits, axis=-1, output_type="int32"), outside)
        tag_ids = tf.RaggedTensor.from_row_splits(best, first_piece.row_splits)
        type_ids, first, last = entity_spans(tag_ids, kinds, types)

        # Word indices within rows -> indices into the flat word offsets.
        entity_rows = tf.cast(type_ids.value_rowids(), "int32")
        row_starts = tf.gather(tf.cast(words.row_splits, "int32"), entity_rows)
        start = tf.gather(byte_starts.flat_values, row_starts + first.flat_values)
        end = tf.gather(byte_ends.flat_values, row_starts + last.flat_values)
        text = tf.gather(texts, entity_rows)
        entity_text = tf.strings.substr(text, start, end - start, unit="BYTE")
        # Character offsets: code points before the entity, and in it.
        before = tf.strings.substr(text, tf.zeros_like(start), start, unit="BYTE")
        char_start = tf.strings.length(before, "UTF8_CHAR")
        char_end = char_start + tf.strings.length(entity_text, "UTF8_CHAR")

        def padded(values, default):
            ragged = tf.RaggedTensor.from_row_splits(values, type_ids.row_splits)
            return ragged.to_tensor(default_value=default)

        return {
            "entity_types": padded(
                tf.gather(tf.constant(type_names or [""]), type_ids.flat_values), ""
            ),
            "entity_texts": padded(entity_text, ""),
            "entity_starts": padded(tf.cast(char_start, "int32"), -1),
            "entity_ends": padded(tf.cast(char_end, "int32"), -1),
            "entity_counts": tf.cast(type_ids.row_lengths(), "int32"),
            "logits": logits,
        }

    return serve
