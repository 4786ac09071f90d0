"""`token_classification_dataset`: tagged sentences as batches padded only as far as they need."""

import keras
import numpy as np
import tensorflow as tf

_CHUNK = 1024  # sentences preprocessed per call


def token_classification_dataset(
    sentences,
    tag_ids,
    preprocessor,
    batch_size,
    *,
    shuffle=False,
    seed=0,
    width_multiple=16,
    full_batches=False,
):
    """Batches of `(inputs, piece labels, piece weights)` grouped by length and padded per batch.

    Every sentence is tokenized and packed once by `preprocessor` (a
    `keras_adapters.models.TokenClassifierPreprocessor`, whose
    `sequence_length` is the most pieces a sentence may get), which puts
    each word's tag on its first piece with weight 1 and weight 0 elsewhere.
    Sentences are then cut to their real length, grouped with sentences of
    similar length, and each batch padded to the next multiple of
    `width_multiple`: news sentences are mostly far shorter than the
    longest, and a few distinct widths keep the number of compiled shapes
    small.

    Args:
        sentences: list of lists of str (words).
        tag_ids: one int array (or list) of tag ids per sentence, one id per
            word.
        preprocessor: a `keras_adapters.models.TokenClassifierPreprocessor`.
        batch_size: sentences per batch.
        shuffle: shuffle before grouping, anew each epoch.
        seed: the shuffle seed.
        width_multiple: batches are padded to a multiple of this, > 0.
        full_batches: pad each length group's last, smaller batch with
            empty rows (weight 0) up to `batch_size`, so a training loop
            under XLA compiles one shape per width and no sentence is
            dropped.

    Returns:
        A `tf.data.Dataset` of `(inputs dict, labels, sample_weights)`,
        labels int32 and weights float32 of shape `[batch, width]`.

    Example:
    ```python
    train = keras_adapters.data.token_classification_dataset(
        data.train.sentences, data.tag_ids("train"), tagger.preprocessor, batch_size=32,
        shuffle=True,
    )
    ```
    """
    for name, value in (("batch_size", batch_size), ("width_multiple", width_multiple)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if len(sentences) != len(tag_ids) or not len(sentences):
        raise ValueError(
            "`sentences` and `tag_ids` must be non-empty and of the same length. Received: "
            f"{len(sentences)} sentences, {len(tag_ids)} tag sequences"
        )
    inputs, labels, weights = _preprocess(sentences, tag_ids, preprocessor)
    lengths = inputs["padding_mask"].sum(axis=1).astype("int32")
    longest = int(preprocessor.sequence_length)
    widths = list(range(width_multiple, longest, width_multiple)) + [longest]
    pad_id = int(getattr(preprocessor.tokenizer, "pad_token_id", 0) or 0)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels, weights, lengths))
    if shuffle:
        dataset = dataset.shuffle(len(lengths), seed=int(seed), reshuffle_each_iteration=True)

    def cut(inputs, labels, weights, length):
        inputs = {key: value[:length] for key, value in inputs.items()}
        return inputs, labels[:length], weights[:length]

    dataset = dataset.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    element = dataset.element_spec[0]
    padding = {
        key: tf.cast(pad_id if key == "token_ids" else 0, spec.dtype)
        for key, spec in element.items()
    }
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, labels, weights: tf.shape(inputs["token_ids"])[0],
        bucket_boundaries=[w + 1 for w in widths[:-1]],
        bucket_batch_sizes=[int(batch_size)] * len(widths),
        padded_shapes=({key: [None] for key in element}, [None], [None]),
        padding_values=(padding, tf.constant(0, tf.int32), tf.constant(0.0, tf.float32)),
        pad_to_bucket_boundary=False,
    )
    rows = int(batch_size) if full_batches else None
    return dataset.map(_pad(width_multiple, longest, padding, rows)).prefetch(tf.data.AUTOTUNE)


def _preprocess(sentences, tag_ids, preprocessor):
    """The whole list through the preprocessor, in chunks, as NumPy arrays."""
    parts = []
    for begin in range(0, len(sentences), _CHUNK):
        x, labels, weights = preprocessor(
            [list(words) for words in sentences[begin : begin + _CHUNK]],
            [np.asarray(ids, dtype=np.int32) for ids in tag_ids[begin : begin + _CHUNK]],
        )
        parts.append(
            (
                {key: keras.ops.convert_to_numpy(value) for key, value in x.items()},
                keras.ops.convert_to_numpy(labels),
                keras.ops.convert_to_numpy(weights),
            )
        )
    inputs = {key: np.concatenate([p[0][key] for p in parts]) for key in parts[0][0]}
    return (
        inputs,
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _pad(multiple, longest, padding, rows):
    """Pads a batch to a multiple of `multiple` wide and, if `rows`, to `rows` sentences."""

    def pad(inputs, labels, weights):
        shape = tf.shape(inputs["token_ids"])
        target = tf.minimum(longest, (shape[1] + multiple - 1) // multiple * multiple)
        extra_rows = 0 if rows is None else rows - shape[0]
        paddings = [[0, extra_rows], [0, target - shape[1]]]
        inputs = {
            key: tf.pad(value, paddings, constant_values=padding[key])
            for key, value in inputs.items()
        }
        return inputs, tf.pad(labels, paddings), tf.pad(weights, paddings)

    return pad
