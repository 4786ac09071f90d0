"""AdaLoRA's importance scores, budget schedule and masks against a NumPy reference.

The reference is written from the paper (Zhang et al. 2023, eqs. 7-12) and
peft's `RankAllocator` (budget_schedule, update_ipt, mask_to_budget), in
float64, on fixed gradients over several steps.
"""

import keras
import numpy as np
import pytest

import keras_adapters
from keras_adapters.core.gradient_map import GradientMap
from keras_adapters.layers import AdaLoraWeights, LoraDense, LoraEinsumDense
from keras_adapters.methods.adalora.rank_allocation import (
    allocate_ranks,
    keep_most_important,
    rank_budget,
    triplet_importance,
)
from tests.support.numpy_adalora import FACTORS, NumpyAllocator, peft_budget


def _config(**overrides):
    fields = dict(
        init_rank=3,
        target_rank=1,
        total_steps=12,
        warmup_steps=2,
        final_steps=3,
        reallocation_interval=2,
        beta1=0.8,
        beta2=0.7,
    )
    return keras_adapters.AdaLoraConfig(**{**fields, **overrides})


@pytest.mark.parametrize(
    "fields",
    [
        dict(init_rank=12, target_rank=8, total_steps=1000),
        dict(init_rank=12, target_rank=4, total_steps=3000, warmup_steps=200, final_steps=500),
        dict(init_rank=8, target_rank=1, total_steps=777, warmup_steps=5, final_steps=5),
        dict(init_rank=6, target_rank=6, total_steps=50, warmup_steps=10, final_steps=0),
    ],
)
@pytest.mark.parametrize("n", [1, 7, 224])
def test_budget_schedule_matches_peft_at_every_step(fields, n):
    config = keras_adapters.AdaLoraConfig(**fields)
    steps = np.arange(0, config.total_steps + 3)
    got = np.array(rank_budget(steps, config, n))
    expected = [peft_budget(int(t), config, n) for t in steps]
    np.testing.assert_array_equal(got, expected)
    final = config.total_steps - config.final_steps
    assert got[config.warmup_steps] == config.init_rank * n
    assert got[final] == config.target_rank * n
    assert np.all(np.diff(got) <= 0)


def test_keep_most_important_keeps_exactly_the_budget_and_breaks_ties_by_index():
    scores = np.array([0.5, 0.0, 0.5, 0.9, 0.0, 0.5], "float32")
    for budget, kept in [(0, []), (1, [3]), (2, [0, 3]), (4, [0, 2, 3, 5]), (5, [0, 1, 2, 3, 5])]:
        got = np.array(keep_most_important(scores, budget))
        assert np.flatnonzero(got).tolist() == kept


def _modules(rank=3):
    """Three modules on a Dense and two EinsumDense kernels (several P / Q layouts)."""
    rng = np.random.default_rng(0)
    wrappers = []
    dense = keras.layers.Dense(6)
    dense.build((None, 5))
    wrappers.append(LoraDense(dense))
    for equation, output_shape, x_shape in [
        ("abc,cde->abde", (None, 2, 3), (None, None, 5)),
        ("abcd,cde->abe", (None, 4), (None, None, 2, 3)),
    ]:
        base = keras.layers.EinsumDense(equation, output_shape=output_shape)
        base.build(x_shape)
        wrappers.append(LoraEinsumDense(base))
    modules = []
    for wrapper in wrappers:
        a_shape, b_shape = wrapper.lora_shapes(rank)
        module = AdaLoraWeights(rank, a_shape, b_shape)
        module.build()
        for name in FACTORS:
            variable = getattr(module, name)
            variable.assign(rng.normal(size=variable.shape).astype("float32"))
        modules.append(module)
    return modules


def test_scores_budget_and_masks_match_numpy_over_steps():
    config = _config()
    modules = _modules()
    reference = NumpyAllocator(
        [{f: tuple(getattr(m, f).shape) for f in FACTORS} for m in modules], config
    )
    rng = np.random.default_rng(1)
    variables = [getattr(m, f) for m in modules for f in FACTORS]
    history = []
    for t in range(1, config.total_steps + 3):
        for variable in variables:  # the weights move between steps, as in training
            variable.assign(variable.numpy() + 0.1 * rng.normal(size=variable.shape))
        gradients = [rng.normal(size=v.shape).astype("float32") for v in variables]
        gradients[4] = None  # a factor without gradient: sensitivity 0
        weights = [{f: getattr(m, f).numpy().astype("float64") for f in FACTORS} for m in modules]
        grads = [
            {f: np.zeros(w[f].shape) if g is None else g for f, g in zip(FACTORS, chunk)}
            for w, chunk in zip(weights, np.array(gradients, dtype=object).reshape(3, 3))
        ]
        allocate_ranks(modules, config, GradientMap(variables, gradients))
        scores = reference.step(t, weights, grads)
        for module, mean, unc, mask in zip(modules, reference.mean, reference.unc, reference.masks):
            assert float(module.step.numpy()) == t
            for f in FACTORS:
                np.testing.assert_allclose(
                    module.statistics.sensitivity[f].numpy(), mean[f], rtol=2e-5, atol=1e-7
                )
                np.testing.assert_allclose(
                    module.statistics.uncertainty[f].numpy(), unc[f], rtol=2e-5, atol=1e-7
                )
            np.testing.assert_array_equal(module.rank_mask.numpy(), mask)
        history.append(sum(int(m.rank_mask.numpy().sum()) for m in modules))
        got = np.concatenate([np.array(triplet_importance(m)) for m in modules])
        np.testing.assert_allclose(got, scores, rtol=2e-5, atol=1e-9)
    # Warm-up keeps all 9; reallocations at 4, 6, 8 and the final one at 9; frozen after.
    assert history[:3] == [9, 9, 9]
    expected_at = {t: peft_budget(t, config, 3) for t in (4, 6, 8, 9)}
    assert [history[t - 1] for t in (4, 6, 8, 9)] == list(expected_at.values())
    assert history[8:] == [config.target_rank * 3] * (len(history) - 8)


def test_a_step_with_non_finite_gradients_leaves_the_statistics_alone():
    modules = _modules()
    variables = [getattr(m, f) for m in modules for f in FACTORS]
    config = _config()
    ones = [np.ones(v.shape, "float32") for v in variables]
    allocate_ranks(modules, config, GradientMap(variables, ones))
    before = [np.array(m.statistics.sensitivity["lora_p"].numpy()) for m in modules]
    overflow = list(ones)
    overflow[7] = np.full(variables[7].shape, np.inf, "float32")  # loss-scaling overflow
    allocate_ranks(modules, config, GradientMap(variables, overflow))
    for module, values in zip(modules, before):
        np.testing.assert_array_equal(module.statistics.sensitivity["lora_p"].numpy(), values)
        assert np.all(np.isfinite(module.statistics.uncertainty["lora_q"].numpy()))
        assert float(module.step.numpy()) == 2.0
