"""`benchmarks/bench_flops.py`: useful FLOPs of a training step, from the shapes."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_configs  # noqa: E402
import bench_flops  # noqa: E402

SHAPES = bench_configs.MINILM_SHAPES
B, T = 16, 128
N, H, INNER, L = B * T, SHAPES["hidden_dim"], SHAPES["intermediate_dim"], SHAPES["num_layers"]
PROJECTIONS = 4 * 2 * N * H * H + 2 * 2 * N * H * INNER  # q, k, v, output; FFN in and out
ATTENTION = 2 * 2 * B * T * T * H  # Q Kᵀ and P V
HEAD = 2 * B * H * 2


def test_full_fine_tuning_is_three_times_the_forward_pass_but_the_input_gradient():
    f = bench_flops.step_flops("full", B, T, SHAPES)
    assert f.forward == L * (PROJECTIONS + ATTENTION) + HEAD
    assert f.weight_gradients == L * PROJECTIONS + HEAD
    # Every activation gradient is needed (the embeddings are trainable).
    assert f.backward_activations == L * (PROJECTIONS + 2 * ATTENTION) + HEAD


def test_lora_at_the_main_jobs_shape_matches_the_issues_arithmetic():
    # About 67 GFLOP for one LoRA step of MiniLM at 32 x 48 (forward ≈ 33, backward ≈ 33).
    f = bench_flops.step_flops("lora", 32, 48, SHAPES)
    assert f.forward / 1e9 == pytest.approx(33.5, abs=0.1)
    assert f.total / 1e9 == pytest.approx(66.5, abs=0.1)


def test_frozen_kernels_get_no_weight_gradient():
    n, r = N, 8
    lora = bench_flops.step_flops("lora", B, T, SHAPES)
    # A and B of query and value in every layer, and the head.
    assert lora.weight_gradients == L * 2 * (2 * n * H * r + 2 * n * r * H) + HEAD
    pfeiffer = bench_flops.step_flops("pfeiffer", B, T, SHAPES)
    width = H // 16
    assert pfeiffer.weight_gradients == L * (2 * n * H * width * 2) + HEAD


def test_backward_stops_below_the_lowest_trainable_weight():
    pfeiffer = bench_flops.step_flops("pfeiffer", B, T, SHAPES)
    lora = bench_flops.step_flops("lora", B, T, SHAPES)
    # Pfeiffer's first adapter sits after layer 0's FFN: nothing of layer 0's
    # attention or FFN needs a gradient, while LoRA's first sits in layer 0's query.
    assert pfeiffer.backward_activations < lora.backward_activations
    assert bench_flops.step_flops("parallel", B, T, SHAPES).total == pfeiffer.total


def test_prefix_lengthens_attention_only():
    prefix = bench_flops.step_flops("prefix", B, T, SHAPES)
    base = bench_flops.step_flops("full", B, T, SHAPES)
    assert prefix.forward == base.forward + L * 2 * 2 * B * T * 10 * H


def test_unknown_method():
    with pytest.raises(ValueError, match="Received: method='dora'"):
        bench_flops.step_flops("dora", B, T, SHAPES)
