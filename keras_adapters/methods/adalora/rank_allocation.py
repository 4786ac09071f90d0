"""AdaLoRA's rank allocation: importance statistics, the budget schedule, the masks.

Everything here is `keras.ops` on variables, traced once into the compiled
training step: the step counter, the statistics and the masks change from
step to step without retracing.
"""

from keras import ops

from keras_adapters.methods.adalora.adalora_weights import FACTORS


def update_importance(module, gradients, beta1, beta2, update=True):
    """One step of the smoothed sensitivity `Ī` and uncertainty `Ū` of `P`, `λ`, `Q`.

    For every entry `w` with gradient `g`: `s = |w g|`,
    `Ī <- beta1 Ī + (1 - beta1) s`, `Ū <- beta2 Ū + (1 - beta2) |s - Ī|`
    (with the new `Ī`). Entries without a gradient have `s = 0`.

    Args:
        module: a `keras_adapters.layers.AdaLoraWeights`.
        gradients: a `keras_adapters.core.gradient_map.GradientMap`.
        beta1: smoothing factor of the sensitivity.
        beta2: smoothing factor of the uncertainty.
        update: boolean (tensor); where false the statistics keep their values.
    """
    for name in FACTORS:
        weight = getattr(module, name)
        gradient = gradients.get(weight)
        value = ops.cast(weight, "float32")
        sensitivity = (
            ops.zeros_like(value)
            if gradient is None
            else ops.abs(value * ops.cast(gradient, "float32"))
        )
        smoothed = module.statistics.sensitivity[name]
        uncertainty = module.statistics.uncertainty[name]
        new_smoothed = beta1 * smoothed + (1.0 - beta1) * sensitivity
        new_uncertainty = beta2 * uncertainty + (1.0 - beta2) * ops.abs(sensitivity - new_smoothed)
        smoothed.assign(ops.where(update, new_smoothed, smoothed))
        uncertainty.assign(ops.where(update, new_uncertainty, uncertainty))


def triplet_importance(module):
    """`S_i = s(λ_i) + mean_j s(P_ji) + mean_j s(Q_ij)` with `s = Ī Ū`, shape `[rank]`.

    `P` is read as `[in, r]` and `Q` as `[r, out]`, whatever their einsum
    axes.
    """
    statistics = module.statistics
    score = {name: statistics.sensitivity[name] * statistics.uncertainty[name] for name in FACTORS}
    p = ops.mean(ops.reshape(score["lora_p"], (-1, module.rank)), axis=0)
    q = ops.mean(ops.reshape(score["lora_q"], (module.rank, -1)), axis=1)
    return score["lora_e"] + p + q


def rank_budget(step, config, num_matrices):
    """Total kept triplets at training step `step` (1-based): peft's cubic schedule.

    `b0 = init_rank * n` while `step <= warmup_steps`; `bT = target_rank * n`
    once `step > total_steps - final_steps`; in between
    `floor((b0 - bT) * (1 - (step - t_i) / (T - t_f - t_i))**3 + bT)`,
    evaluated in float64 like peft's Python.

    Args:
        step: the training step, a number or a scalar tensor.
        config: a `keras_adapters.AdaLoraConfig`.
        num_matrices: the number of adapted matrices `n`.

    Returns:
        An int32 scalar tensor.
    """
    step = ops.cast(step, "float64")
    initial = float(config.init_rank * num_matrices)
    target = float(config.target_rank * num_matrices)
    warmup = float(config.warmup_steps)
    final = float(config.total_steps - config.final_steps)
    remaining = 1.0 - (step - warmup) / (final - warmup)
    cubic = ops.floor((initial - target) * ops.power(remaining, 3.0) + target)
    budget = ops.where(step <= warmup, initial, ops.where(step > final, target, cubic))
    return ops.cast(budget, "int32")


def keep_most_important(scores, budget):
    """1.0 for the `budget` largest `scores`, else 0.0; ties keep the lower index.

    Exactly `budget` entries are kept (`peft` thresholds with `<=` at the
    k-th value instead, which keeps fewer on ties).
    """
    order = ops.top_k(scores, k=scores.shape[0], sorted=True)[1]
    ranks = ops.argsort(order)  # the inverse permutation: each entry's place
    return ops.cast(ranks < budget, "float32")


def reallocation_due(step, config):
    """Whether the mask is recomputed after step `step` (a scalar int tensor).

    Every `reallocation_interval` steps strictly between `warmup_steps` and
    `total_steps - final_steps`, and always at `total_steps - final_steps`
    (the final allocation, frozen afterwards).
    """
    final = config.total_steps - config.final_steps
    periodic = ops.logical_and(
        ops.logical_and(step > config.warmup_steps, step < final),
        ops.equal(step % config.reallocation_interval, 0),
    )
    return ops.logical_or(periodic, ops.equal(step, final))


def allocate_ranks(modules, config, gradients):
    """AdaLoRA's gradient hook: count the step, update importance, reallocate the budget.

    Runs inside every training step (see `keras_adapters.methods.AdapterMethod`)
    with the adapter's modules. At step `t` (1-based, counted in every module's
    `step`): the statistics move while `t < total_steps - final_steps` (and
    the adapter's gradients are finite: a loss-scaling overflow is skipped);
    if a reallocation is due, every mask keeps the triplets among the
    `rank_budget(t)` globally most important ones.

    Args:
        modules: the adapter's `keras_adapters.layers.AdaLoraWeights`.
        config: its `keras_adapters.AdaLoraConfig`.
        gradients: a `keras_adapters.core.gradient_map.GradientMap`.
    """
    step = modules[0].step + 1.0
    for module in modules:
        module.step.assign(step)
    final = float(config.total_steps - config.final_steps)
    update = ops.logical_and(step < final, _all_finite(modules, gradients))
    for module in modules:
        update_importance(module, gradients, config.beta1, config.beta2, update)
    scores = ops.concatenate([triplet_importance(module) for module in modules])
    keep = keep_most_important(scores, rank_budget(step, config, len(modules)))
    due = reallocation_due(ops.cast(step, "int32"), config)
    offset = 0
    for module in modules:
        mask = keep[offset : offset + module.rank]
        module.rank_mask.assign(ops.where(due, mask, module.rank_mask))
        offset += module.rank


def _all_finite(modules, gradients):
    """Whether every gradient of the modules' factors is finite (a boolean tensor)."""
    checks = [
        ops.all(ops.isfinite(gradient))
        for module in modules
        for gradient in (gradients.get(getattr(module, name)) for name in FACTORS)
        if gradient is not None
    ]
    return ops.all(ops.stack(checks)) if checks else ops.convert_to_tensor(True)
