"""`LabelScores`: how a causal LM scores label words as answers to prompts."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class LabelScores:
    """Log-likelihoods of each label word as the answer to each prompt.

    Attributes:
        log_likelihoods: `[examples, labels]` float64, `log p(label word |
            prompt)` summed over the word's tokens.
        labels: `[examples]` int, the true label ids.
        response_log_likelihoods: `[examples]` float64, `log p(true response
            | prompt)`, the response being the true label word followed by
            the end token when the model's preprocessor adds one.
        response_tokens: `[examples]` int, tokens in each true response.
    """

    log_likelihoods: np.ndarray
    labels: np.ndarray
    response_log_likelihoods: np.ndarray
    response_tokens: np.ndarray

    @property
    def predictions(self):
        """The label with the highest log-likelihood, per example."""
        return np.argmax(self.log_likelihoods, axis=-1)

    @property
    def accuracy(self):
        return float(np.mean(self.predictions == self.labels)) if len(self.labels) else 0.0

    @property
    def response_perplexity(self):
        """`exp(-sum log p(response tokens) / number of response tokens)`."""
        tokens = int(np.sum(self.response_tokens))
        return float(np.exp(-np.sum(self.response_log_likelihoods) / tokens)) if tokens else 0.0
