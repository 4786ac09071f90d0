"""`length_bucketed_dataset`: preprocessed batches padded only as far as their texts need."""

import numpy as np
import tensorflow as tf


def length_bucketed_dataset(
    texts,
    labels,
    preprocessor,
    batch_size,
    *,
    shuffle=False,
    seed=0,
    width_multiple=16,
    full_batches=False,
):
    """Batches of `(inputs, labels)` grouped by length and padded per batch.

    Every text is tokenized and packed by `preprocessor` (a KerasHub
    preprocessor, e.g. `keras_hub.models.BertTextClassifierPreprocessor`,
    whose `sequence_length` is the longest a text may get), cut to its real
    length, and batched with texts of similar length, each batch padded to
    the next multiple of `width_multiple`. Short texts then cost what they
    need instead of the full `sequence_length` — review snippets are mostly
    far shorter than the longest — and the few distinct widths keep the
    number of compiled shapes small. Padding positions are masked exactly
    as before, so the model computes the same real-token outputs.

    Args:
        texts: list of str.
        labels: int labels, one per text.
        preprocessor: a KerasHub text preprocessor returning a dict with
            `token_ids` and `padding_mask` (other keys are cut alike).
        batch_size: examples per batch.
        shuffle: shuffle before grouping, anew each epoch.
        seed: the shuffle seed.
        width_multiple: batches are padded to a multiple of this, > 0.
        full_batches: pad each length group's last, smaller batch with
            empty rows up to `batch_size` and yield sample weights (1 for
            real rows, 0 for the added ones), so a training loop under XLA
            compiles one shape per width and no example is dropped.

    Returns:
        A `tf.data.Dataset` of `(inputs dict, labels)`, or of
        `(inputs, labels, sample_weights)` with `full_batches=True`.

    Example:
    ```python
    train = keras_adapters.data.length_bucketed_dataset(
        data.train.texts, data.train.labels, classifier.preprocessor, batch_size=32, shuffle=True
    )
    ```
    """
    for name, value in (("batch_size", batch_size), ("width_multiple", width_multiple)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if len(texts) != len(labels) or not len(texts):
        raise ValueError(
            f"`texts` and `labels` must be non-empty and of the same length. Received: "
            f"{len(texts)} texts, {len(labels)} labels"
        )
    longest = int(preprocessor.sequence_length)
    widths = list(range(width_multiple, longest, width_multiple)) + [longest]
    pad_id = int(getattr(preprocessor.tokenizer, "pad_token_id", 0) or 0)
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts), tf.string), tf.constant(np.asarray(labels), tf.int32))
    )
    if shuffle:
        dataset = dataset.shuffle(len(texts), seed=int(seed), reshuffle_each_iteration=True)

    def cut(text, label):
        inputs = preprocessor(text)
        length = tf.reduce_sum(tf.cast(inputs["padding_mask"], "int32"))
        return {key: value[:length] for key, value in inputs.items()}, label

    dataset = dataset.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    element, _ = dataset.element_spec
    padding = {
        key: tf.cast(pad_id if key == "token_ids" else 0, spec.dtype)
        for key, spec in element.items()
    }
    dataset = dataset.bucket_by_sequence_length(
        lambda inputs, label: tf.shape(inputs["token_ids"])[0],
        bucket_boundaries=[w + 1 for w in widths[:-1]],
        bucket_batch_sizes=[int(batch_size)] * len(widths),
        padded_shapes=({key: [None] for key in element}, []),
        padding_values=(padding, tf.constant(0, tf.int32)),
        pad_to_bucket_boundary=False,
    )
    rows = int(batch_size) if full_batches else None
    return dataset.map(_pad(width_multiple, longest, padding, rows)).prefetch(tf.data.AUTOTUNE)


def _pad(multiple, longest, padding, rows):
    """Pads a batch to a multiple of `multiple` wide and, if `rows`, to `rows` examples."""

    def pad(inputs, labels):
        shape = tf.shape(inputs["token_ids"])
        target = tf.minimum(longest, (shape[1] + multiple - 1) // multiple * multiple)
        extra_rows = 0 if rows is None else rows - shape[0]
        inputs = {
            key: tf.pad(
                value, [[0, extra_rows], [0, target - shape[1]]], constant_values=padding[key]
            )
            for key, value in inputs.items()
        }
        if rows is None:
            return inputs, labels
        weights = tf.pad(tf.ones([shape[0]], "float32"), [[0, extra_rows]])
        return inputs, tf.pad(labels, [[0, extra_rows]]), weights

    return pad
