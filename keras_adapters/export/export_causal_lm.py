"""`export_causal_lm`: a KerasHub causal LM as a TF Serving SavedModel that generates text."""

import contextlib
import pathlib

import keras
import tensorflow as tf

from keras_adapters.export.adapter_views import merged_adapters
from keras_adapters.export.saved_model_files import (
    check_export_arguments,
    saved_model_directory,
    write_metadata,
)
from keras_adapters.injection.adapter_state import get_state

ADAPTER_MODES = ("merged", "unmerged")
PROMPTS = "prompts"
MAX_NEW_TOKENS = "max_new_tokens"


def export_causal_lm(
    causal_lm,
    path,
    *,
    max_length,
    max_new_tokens=32,
    stop_token_ids="auto",
    adapters="merged",
    overwrite=False,
):
    """Writes a KerasHub causal LM as a TensorFlow SavedModel that answers prompts.

    Two signatures take a batch of raw prompt strings (`prompts`, `tf.string`
    `[batch]`) and return `text`, the generated continuation of each prompt
    (prompt, padding and special tokens removed): `serving_default` generates
    up to `max_new_tokens` new tokens, `generate` takes that number as a
    second input (`max_new_tokens`, `tf.int32` scalar). Tokenisation,
    KerasHub's cached generation loop (with the model's compiled sampler,
    greedy unless `compile(sampler=...)` says otherwise) and detokenisation
    run in the graph. A prompt whose tokens do not fit in `max_length` is
    refused with an error naming the limit, never silently cut.

    Adapters are exported `"merged"` (adapters that can merge, LoRA among
    them, are folded into the kernels while tracing; the model is left
    exactly as it was) or `"unmerged"` (every active adapter runs as it is).
    The directory is written aside and renamed, so `path` is never
    half-written.

    Args:
        causal_lm: a KerasHub `CausalLM` with a preprocessor.
        path: the SavedModel directory (for TF Serving, a numbered version
            directory such as `models/chat/1`).
        max_length: most tokens (prompt and generated) one sequence may
            hold; the key/value cache is sized to the longest prompt of a
            request plus the new tokens, up to this.
        max_new_tokens: new tokens per prompt of `serving_default`.
        stop_token_ids: token ids that end a sequence; `"auto"` is the
            tokenizer's end token; `None` never stops early.
        adapters: `"merged"` or `"unmerged"`.
        overwrite: replace a SavedModel written by keras-adapters at `path`.

    Returns:
        The `pathlib.Path` of the SavedModel.

    Example:
    ```python
    keras_adapters.export.export_causal_lm(causal_lm, "models/chat/1", max_length=256)
    outputs = keras_adapters.export.call_saved_model(
        "models/chat/1", {"prompts": ["What is the capital of France?"]}
    )
    outputs["text"]
    ```
    """
    stop_token_ids = _check_arguments(
        causal_lm, max_length, max_new_tokens, stop_token_ids, adapters, overwrite
    )
    path = pathlib.Path(path)
    with saved_model_directory(path, overwrite) as directory:
        archive = keras.export.ExportArchive()
        view = merged_adapters(causal_lm) if adapters == "merged" else contextlib.nullcontext(())
        with view as merged:
            generate = _generate_function(causal_lm, max_length, stop_token_ids)
            _add_endpoint(archive, "generate", generate, with_limit=True)
            _add_endpoint(
                archive, "serving_default", lambda prompts: generate(prompts, max_new_tokens)
            )
            archive.track(causal_lm.preprocessor)
            archive.write_out(str(directory), verbose=False)
        state = get_state(causal_lm)
        write_metadata(
            directory,
            causal_lm,
            inputs=[PROMPTS, MAX_NEW_TOKENS],
            outputs=["text"],
            max_length=max_length,
            max_new_tokens=max_new_tokens,
            stop_token_ids=stop_token_ids,
            adapters=adapters,
            active=list(state.active) if state is not None and state.enabled else [],
            merged=list(merged),
        )
    return path


def _check_arguments(causal_lm, max_length, max_new_tokens, stop_token_ids, adapters, overwrite):
    check_export_arguments(causal_lm, overwrite, "causal LM")
    if not hasattr(causal_lm, "generate_step"):
        raise ValueError(
            f"`causal_lm` must be a KerasHub CausalLM. Received: {type(causal_lm).__name__}"
        )
    for name, value in (("max_length", max_length), ("max_new_tokens", max_new_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if max_new_tokens >= max_length:
        raise ValueError(
            f"`max_new_tokens` must leave room for a prompt in `max_length`={max_length}. "
            f"Received: max_new_tokens={max_new_tokens}"
        )
    if not isinstance(adapters, str) or adapters not in ADAPTER_MODES:
        raise ValueError(
            f"`adapters` must be one of {list(ADAPTER_MODES)}. Received: adapters={adapters!r}"
        )
    if stop_token_ids == "auto":
        return [int(causal_lm.preprocessor.tokenizer.end_token_id)]
    if stop_token_ids is None:
        return None
    if isinstance(stop_token_ids, (str, bytes)) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in stop_token_ids
    ):
        raise ValueError(
            "`stop_token_ids` must be 'auto', None or a list of token ids. "
            f"Received: stop_token_ids={stop_token_ids!r}"
        )
    return [int(t) for t in stop_token_ids]


def _generate_function(causal_lm, max_length, stop_token_ids):
    preprocessor = causal_lm.preprocessor
    tokenizer = preprocessor.tokenizer
    start = 1 if preprocessor.add_start_token else 0
    special = tf.constant(sorted(set(tokenizer.special_token_ids)) or [-1], "int32")

    def generate(prompts, max_new_tokens):
        counts = tf.cast(tokenizer(prompts).row_lengths(), "int32") + start
        tf.debugging.assert_less(
            counts,
            max_length,
            message=f"A prompt has too many tokens: the SavedModel generates within max_length="
            f"{max_length} tokens, prompt included.",
        )
        x = preprocessor.generate_preprocess(prompts, sequence_length=max_length)
        lengths = tf.reduce_sum(tf.cast(x["padding_mask"], "int32"), axis=1)
        limit = tf.minimum(max_length, tf.reduce_max(lengths) + max_new_tokens)
        x = {key: value[:, :limit] for key, value in x.items()}
        outputs = causal_lm.generate_step(x, stop_token_ids=stop_token_ids)
        positions = tf.range(tf.shape(outputs["token_ids"])[1])[None, :]
        new = tf.logical_and(
            tf.logical_and(
                tf.cast(outputs["padding_mask"], "bool"),
                tf.logical_not(tf.cast(x["padding_mask"], "bool")),
            ),
            positions < (lengths + max_new_tokens)[:, None],
        )
        ids = tf.ragged.boolean_mask(tf.cast(outputs["token_ids"], "int32"), new)
        keep = tf.ragged.map_flat_values(
            lambda t: tf.reduce_all(tf.not_equal(t[:, None], special[None, :]), axis=-1), ids
        )
        text = tokenizer.detokenize(tf.ragged.boolean_mask(ids, keep))
        return {"text": tf.reshape(text, [-1])}

    return generate


def _add_endpoint(archive, name, function, with_limit=False):
    signature = [tf.TensorSpec([None], tf.string, name=PROMPTS)]
    if with_limit:
        signature.append(tf.TensorSpec([], tf.int32, name=MAX_NEW_TOKENS))
    endpoint = archive.add_endpoint(name, function, input_signature=signature)
    endpoint.get_concrete_function()
