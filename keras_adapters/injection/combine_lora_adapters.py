"""`combine_lora_adapters`: several trained LoRA adapters, weighted, as one new adapter."""

import numpy as np

from keras_adapters.core.validation import check_adapter_name
from keras_adapters.injection.adapter_state import require_state
from keras_adapters.injection.add_adapter import add_adapter
from keras_adapters.methods.lora.lora_config import LoraConfig
from keras_adapters.methods.lora.lora_wrapper import LoraWrapper
from keras_adapters.planning.model_context import ModelContext

COMBINATIONS = ("linear", "svd")


def combine_lora_adapters(model, adapter_names, weights, new_name, combination="linear", rank=None):
    """Adds a LoRA adapter whose update is a weighted combination of existing ones.

    Per adapted projection, the target update is
    `ΔW = Σ_i weights[i] * s_i * A_i B_i` (each adapter's own scale `s_i`).

    - `"linear"`: exact. The new adapter concatenates the factors along the
      rank axis, `A = [A_1 ... A_k]`, `B = [w_1 s_1 B_1; ...; w_k s_k B_k]`,
      with rank `Σ r_i` and scale 1 (peft calls this combination `"cat"`).
    - `"svd"`: `ΔW` (as an `[inputs, outputs]` matrix) is factored by a
      truncated SVD, `A = U_r sqrt(S_r)`, `B = sqrt(S_r) V_rᵀ`, rank `rank`
      (default: the largest source rank), scale 1. Exact when `rank` reaches
      the rank of `ΔW`; otherwise the best rank-`rank` approximation.

    The sources stay as they are; the new adapter is added inactive, on the
    union of their projections.

    Args:
        model: a model with LoRA adapters.
        adapter_names: the LoRA adapters to combine (at least one).
        weights: one number per adapter.
        new_name: the new adapter's name.
        combination: `"linear"` or `"svd"`.
        rank: the new rank for `"svd"`.

    Returns:
        The new adapter's `keras_adapters.TrainableReport` entry name (`new_name`).

    Example:
    ```python
    keras_adapters.combine_lora_adapters(model, ["news", "reviews"], [0.5, 0.5], "both")
    keras_adapters.set_active_adapters(model, "both")
    ```
    """
    state = require_state(model)
    names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
    not_lora = [n for n in names if not isinstance(state.configs.get(n), LoraConfig)]
    if not names or not_lora:
        raise ValueError(
            f"`adapter_names` must name LoRA adapters of the model "
            f"{[n for n, c in state.configs.items() if isinstance(c, LoraConfig)]}. "
            f"Received: adapter_names={names!r}"
        )
    weights = list(weights) if not isinstance(weights, (int, float)) else [weights]
    if len(weights) != len(names) or not all(
        isinstance(w, (int, float, np.floating)) and not isinstance(w, bool) for w in weights
    ):
        raise ValueError(
            f"`weights` must hold one number per adapter ({len(names)}). Received: weights={weights!r}"
        )
    check_adapter_name(new_name)
    if combination not in COMBINATIONS:
        raise ValueError(
            f"`combination` must be one of {list(COMBINATIONS)}. Received: combination={combination!r}"
        )
    ranks = [state.configs[n].rank for n in names]
    if combination == "svd":
        rank = max(ranks) if rank is None else rank
        if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
            raise ValueError(f"`rank` must be a positive integer. Received: rank={rank!r}")
    else:
        rank = sum(ranks)
    wrappers = [
        w
        for _, _, w in ModelContext(model).wrappers()
        if isinstance(w, LoraWrapper) and any(n in w.adapter_names for n in names)
    ]
    factors = {
        w.location: _combined_factors(w, names, weights, combination, rank) for w in wrappers
    }
    config = LoraConfig(rank=rank, alpha=float(rank), targets=[w.location for w in wrappers])
    add_adapter(model, config, new_name, activate=False, verbose=False)
    for wrapper in wrappers:
        module = wrapper.get_adapter(new_name)
        a, b = factors[wrapper.location]
        module.lora_a.assign(a)
        module.lora_b.assign(b)
    return new_name


def _combined_factors(wrapper, names, weights, combination, rank):
    a_shape, b_shape = wrapper.lora_shapes(1)
    in_shape, out_shape = a_shape[:-1], b_shape[1:]
    a_parts, b_parts = [], []
    for name, weight in zip(names, weights):
        if name not in wrapper.adapter_names:
            continue
        module = wrapper.get_adapter(name)
        a = np.asarray(module.lora_a.numpy(), "float64").reshape(-1, module.rank)
        b = np.asarray(module.lora_b.numpy(), "float64").reshape(module.rank, -1)
        a_parts.append(a)
        b_parts.append(b * weight * module.scale)
    if combination == "linear":
        used = sum(a.shape[1] for a in a_parts)
        a = np.concatenate(a_parts + [np.zeros((a_parts[0].shape[0], rank - used))], axis=1)
        b = np.concatenate(b_parts + [np.zeros((rank - used, b_parts[0].shape[1]))], axis=0)
    else:
        delta = sum(a @ b for a, b in zip(a_parts, b_parts))
        u, s, vt = np.linalg.svd(delta, full_matrices=False)
        kept = min(rank, s.shape[0])
        a = np.zeros((delta.shape[0], rank))
        b = np.zeros((rank, delta.shape[1]))
        a[:, :kept] = u[:, :kept] * np.sqrt(s[:kept])
        b[:kept] = np.sqrt(s[:kept])[:, None] * vt[:kept]
    return (
        a.reshape(in_shape + (rank,)).astype("float32"),
        b.reshape((rank,) + out_shape).astype("float32"),
    )
