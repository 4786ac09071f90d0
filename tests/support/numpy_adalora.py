"""A NumPy reference of AdaLoRA's rank allocation (float64).

Written from the paper (Zhang et al. 2023, eqs. 7-12) and peft's
`RankAllocator` (`budget_schedule`, `update_ipt`, `mask_to_budget`), not from
keras-adapters code. Steps are 1-based: step `t` is the `t`-th training step.
"""

import numpy as np

FACTORS = ("lora_p", "lora_e", "lora_q")  # P, λ, Q


def peft_budget(step, config, n):
    """peft's `RankAllocator.budget_schedule`, budget only (Python floats)."""
    b0, bt = config.init_rank * n, config.target_rank * n
    ti, tf, total = config.warmup_steps, config.final_steps, config.total_steps
    if step <= ti:
        return b0
    if step > total - tf:
        return bt
    mul_coeff = 1 - (step - ti) / (total - tf - ti)
    return int((b0 - bt) * (mul_coeff**3) + bt)


class NumpyAllocator:
    """Per-entry statistics, triplet scores, budget and masks of one adapter.

    Args:
        shapes: per matrix, `{factor: shape}` of `P`, `λ`, `Q`.
        config: the `AdaLoraConfig`.
    """

    def __init__(self, shapes, config):
        self.config, self.n = config, len(shapes)
        self.rank = [s["lora_e"][0] for s in shapes]
        self.mean = [{f: np.zeros(s[f]) for f in FACTORS} for s in shapes]
        self.unc = [{f: np.zeros(s[f]) for f in FACTORS} for s in shapes]
        self.masks = [np.ones(r) for r in self.rank]

    def step(self, t, weights, gradients):
        """One training step `t`: `weights`, `gradients` per matrix as `{factor: array}`.

        Returns the triplet importance of every triplet (all matrices).
        """
        c = self.config
        final = c.total_steps - c.final_steps
        if t < final:
            for mean, unc, w, g in zip(self.mean, self.unc, weights, gradients):
                for f in FACTORS:
                    s = np.abs(w[f] * g[f])
                    mean[f] = c.beta1 * mean[f] + (1 - c.beta1) * s
                    unc[f] = c.beta2 * unc[f] + (1 - c.beta2) * np.abs(s - mean[f])
        scores = np.concatenate([self.importance(i) for i in range(self.n)])
        due = (c.warmup_steps < t < final and t % c.reallocation_interval == 0) or t == final
        if due:
            budget = peft_budget(t, c, self.n)
            order = np.argsort(-scores, kind="stable")  # ties: lower index first
            keep = np.zeros(scores.size)
            keep[order[:budget]] = 1
            self.masks = np.split(keep, np.cumsum(self.rank)[:-1])
        return scores

    def importance(self, i):
        r = self.rank[i]
        score = {f: self.mean[i][f] * self.unc[i][f] for f in FACTORS}
        p = score["lora_p"].reshape(-1, r).mean(axis=0)
        q = score["lora_q"].reshape(r, -1).mean(axis=1)
        return score["lora_e"] + p + q
