"""`score_label_words`: classify with a causal LM by the likelihood of each label word."""

import numpy as np
import tensorflow as tf
from keras import ops

from keras_adapters.models.label_scores import LabelScores

_BUCKET = 16  # sequences are padded to multiples of this, to reuse traced shapes


def score_label_words(causal_lm, prompts, label_words, labels, batch_size=32):
    """Scores every label word as the answer to every prompt, without sampling.

    For each prompt, the log-likelihood of each label word given the prompt
    (summed over the word's tokens) decides the prediction; the true
    response (true label word, then the end token if the preprocessor adds
    one) gives the held-out perplexity. When every label word is one token,
    one forward pass per example gives both (the candidates are read from
    the logits at the last prompt position, next to the true response's);
    otherwise each candidate gets its own pass. Only the needed positions go
    through the output projection. Prompts are tokenized exactly as
    `generate()` would tokenize them (start token per the preprocessor).

    Args:
        causal_lm: a KerasHub `CausalLM` with a preprocessor (adapters
            active as they are).
        prompts: list of str, each ending where the answer starts (e.g. after
            the chat template's assistant header).
        label_words: list of str, one per label id, e.g.
            `["negative", "positive"]`.
        labels: list of int, the true label id of each prompt.
        batch_size: examples per forward pass.

    Returns:
        A `keras_adapters.models.LabelScores`.

    Example:
    ```python
    scores = keras_adapters.models.score_label_words(
        causal_lm, prompts, ["negative", "positive"], labels
    )
    scores.accuracy, scores.response_perplexity
    ```
    """
    preprocessor = getattr(causal_lm, "preprocessor", None)
    if preprocessor is None or not hasattr(preprocessor, "tokenizer"):
        raise ValueError(
            "`causal_lm` must have a preprocessor with a tokenizer to tokenize prompts. "
            f"Received: causal_lm.preprocessor={preprocessor!r}"
        )
    prompts, label_words, labels = list(prompts), list(label_words), np.asarray(labels)
    if not prompts or len(prompts) != len(labels):
        raise ValueError(
            "`prompts` and `labels` must be non-empty and of the same length. Received: "
            f"{len(prompts)} prompts, {len(labels)} labels"
        )
    if len(label_words) < 2 or not all(isinstance(w, str) and w for w in label_words):
        raise ValueError(
            f"`label_words` must hold at least two non-empty strings. Received: {label_words!r}"
        )
    if labels.min() < 0 or labels.max() >= len(label_words):
        raise ValueError(
            f"`labels` must be ids in [0, {len(label_words) - 1}]. "
            f"Received: min={labels.min()}, max={labels.max()}"
        )
    tokenizer = preprocessor.tokenizer
    start = [tokenizer.start_token_id] if preprocessor.add_start_token else []
    end = [tokenizer.end_token_id] if preprocessor.add_end_token else []
    prompt_ids = [start + _ids(tokenizer, p) for p in prompts]
    word_ids = [_ids(tokenizer, w) for w in label_words]
    responses = [word_ids[label] + end for label in labels]
    limit = causal_lm.backbone.get_config().get("max_sequence_length")
    longest = max(len(p) + len(r) for p, r in zip(prompt_ids, responses))
    if limit is not None and longest > limit:
        raise ValueError(
            f"A prompt with its answer has {longest} tokens; the model takes at most {limit}. "
            "Shorten the prompts."
        )
    score = _Scorer(causal_lm)
    true = score(prompt_ids, responses, batch_size)
    if all(len(w) == 1 for w in word_ids):
        candidates = true.candidates[:, [w[0] for w in word_ids]]
    else:
        candidates = np.stack(
            [score(prompt_ids, [w] * len(prompts), batch_size).totals for w in word_ids], -1
        )
    return LabelScores(
        log_likelihoods=candidates,
        labels=labels,
        response_log_likelihoods=true.totals,
        response_tokens=np.array([len(r) for r in responses]),
    )


def _ids(tokenizer, text):
    return [int(t) for t in np.asarray(tokenizer(text)).reshape(-1)]


class _Scored:
    def __init__(self, totals, candidates):
        self.totals, self.candidates = totals, candidates


class _Scorer:
    """Teacher-forced log-likelihoods of continuations, batched by padded length."""

    def __init__(self, causal_lm):
        backbone = causal_lm.backbone

        @tf.function(reduce_retracing=True)
        def log_probs(token_ids, padding_mask, positions):
            hidden = backbone({"token_ids": token_ids, "padding_mask": padding_mask})
            picked = ops.take_along_axis(hidden, positions[..., None], axis=1)
            logits = backbone.token_embedding(picked, reverse=True)
            return ops.log_softmax(ops.cast(logits, "float32"), axis=-1)

        self._log_probs = log_probs

    def __call__(self, prompt_ids, continuations, batch_size):
        order = np.argsort([len(p) + len(c) for p, c in zip(prompt_ids, continuations)])
        totals = np.zeros(len(prompt_ids))
        candidates = None
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            width = max(len(prompt_ids[r]) + len(continuations[r]) for r in rows)
            width = -(-width // _BUCKET) * _BUCKET
            steps = max(len(continuations[r]) for r in rows)
            token_ids = np.zeros((len(rows), width), "int32")
            padding_mask = np.zeros((len(rows), width), "int32")
            positions = np.zeros((len(rows), steps), "int32")
            for i, r in enumerate(rows):
                sequence = prompt_ids[r] + continuations[r]
                token_ids[i, : len(sequence)] = sequence
                padding_mask[i, : len(sequence)] = 1
                first_answer = len(prompt_ids[r])
                positions[i] = [
                    first_answer - 1 + min(j, len(continuations[r]) - 1) for j in range(steps)
                ]
            log_probs = np.asarray(self._log_probs(token_ids, padding_mask, positions), "float64")
            if candidates is None:
                candidates = np.zeros((len(prompt_ids), log_probs.shape[-1]))
            for i, r in enumerate(rows):
                targets = continuations[r]
                totals[r] = sum(log_probs[i, j, t] for j, t in enumerate(targets))
                candidates[r] = log_probs[i, 0]
        return _Scored(totals, candidates)
