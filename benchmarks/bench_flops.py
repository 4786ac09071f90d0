"""Useful matmul FLOPs of one training step, counted from the shapes.

A BERT-style encoder (MiniLM-L6) under a mean-pooled 2-class head, for the
training methods of `bench_configs`. Only matrix products are counted (2
FLOPs per multiply-add); softmax, GELU, layer norms, dropout and the
optimizer are not, as usual for "model FLOPs". A step's useful FLOPs are:

- **forward**: every product of the forward pass;
- **backward to activations**: for a product `Y = X W` (or `Q Kᵀ`, `P V`),
  the gradient with respect to an operand that *depends on a trainable
  weight*; the gradient of an input that no trainable weight feeds is not
  useful (backward stops at the lowest trainable weight);
- **weight gradients**: `Xᵀ dY` for trainable weights only.

Nothing here imports TensorFlow.
"""

import dataclasses


@dataclasses.dataclass
class Flops:
    """FLOPs of one step, split by kind."""

    forward: float = 0.0
    backward_activations: float = 0.0
    weight_gradients: float = 0.0

    @property
    def total(self):
        return self.forward + self.backward_activations + self.weight_gradients

    def product(self, flops, left_needs_grad, right_needs_grad, right_is_weight=False):
        """Counts one product of `flops` forward FLOPs; returns whether its output needs a gradient.

        Each operand that needs a gradient costs the forward FLOPs once more
        in the backward pass, counted as a weight gradient when the operand
        is a trainable weight.
        """
        self.forward += flops
        if left_needs_grad:
            self.backward_activations += flops
        if right_needs_grad:
            if right_is_weight:
                self.weight_gradients += flops
            else:
                self.backward_activations += flops
        return left_needs_grad or right_needs_grad


# Where each method puts trainable weights in a block.
TRAINABLE = {
    "full": dict(kernels="all"),
    "keras_lora": dict(lora=("query", "value")),
    "lora": dict(lora=("query", "value")),
    "lora_all": dict(lora=("query", "key", "value", "output", "ffn_in", "ffn_out")),
    "pfeiffer": dict(bottlenecks=("after_ffn",)),
    "houlsby": dict(bottlenecks=("after_attention", "after_ffn")),
    "parallel": dict(bottlenecks=("after_ffn",)),
    "prefix": dict(prefix=True),
}


def step_flops(method, batch_size, sequence_length, shapes, rank=8, reduction=16, prefix=10):
    """Useful matmul FLOPs of one training step of `method`.

    Args:
        method: a `bench_configs.TRAIN_METHODS` name.
        batch_size: int.
        sequence_length: int. Every position of the batch counts (a fixed
            shape computes its padding too).
        shapes: dict like `bench_configs.MINILM_SHAPES`.
        rank: LoRA rank.
        reduction: bottleneck reduction factor (`hidden // reduction` wide).
        prefix: prefix tokens per layer, for `"prefix"`.

    Returns:
        A `Flops`.
    """
    if method not in TRAINABLE:
        raise ValueError(f"Unknown method. Valid: {sorted(TRAINABLE)}. Received: method={method!r}")
    where = TRAINABLE[method]
    full = where.get("kernels") == "all"
    lora = where.get("lora", ())
    bottlenecks = where.get("bottlenecks", ())
    prefix_tokens = prefix if where.get("prefix") else 0
    b, t = batch_size, sequence_length
    n, h, inner = b * t, shapes["hidden_dim"], shapes["intermediate_dim"]
    flops = Flops()

    def projection(x_grad, d_in, d_out, slot):
        out = flops.product(2.0 * n * d_in * d_out, x_grad, full, right_is_weight=True)
        if slot in lora:  # x A (A trainable), then (x A) B (B trainable)
            low = flops.product(2.0 * n * d_in * rank, x_grad, True, right_is_weight=True)
            out = flops.product(2.0 * n * rank * d_out, low, True, right_is_weight=True) or out
        return out

    def bottleneck(x_grad, placement):
        if placement not in bottlenecks:
            return x_grad
        width = h // reduction
        down = flops.product(2.0 * n * h * width, x_grad, True, right_is_weight=True)
        return flops.product(2.0 * n * width * h, down, True, right_is_weight=True)

    x_grad = full  # the embeddings are trainable only in full fine-tuning
    for _ in range(shapes["num_layers"]):
        q = projection(x_grad, h, h, "query")
        k = projection(x_grad, h, h, "key")
        v = projection(x_grad, h, h, "value")
        scores = flops.product(2.0 * b * t * t * h, q, k)  # Q Kᵀ over the tokens
        if prefix_tokens:  # Q K_prefixᵀ, the prefix keys being trainable
            scores = flops.product(2.0 * b * t * prefix_tokens * h, q, True, True) or scores
        context = flops.product(2.0 * b * t * t * h, scores, v)  # P V
        if prefix_tokens:
            context = flops.product(2.0 * b * t * prefix_tokens * h, True, True, True) or context
        attention = bottleneck(projection(context, h, h, "output"), "after_attention")
        x_grad = x_grad or attention  # residual, then the (frozen) layer norm
        ffn = projection(projection(x_grad, h, inner, "ffn_in"), inner, h, "ffn_out")
        after_ffn = bottleneck(ffn, "after_ffn")  # counted whether or not x needs a gradient
        x_grad = x_grad or after_ffn
    flops.product(2.0 * b * h * 2, x_grad, True, right_is_weight=True)  # the trainable head
    return flops
