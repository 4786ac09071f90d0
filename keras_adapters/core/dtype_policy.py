"""The dtype policy of adapter weights: float32 storage, the base's compute dtype."""

import keras


def adapter_dtype_policy(base_policy):
    """Returns a policy storing variables in float32 and computing like `base_policy`.

    Under `mixed_bfloat16` this is `mixed_bfloat16`; under a pure `bfloat16`
    base (weights stored in bfloat16) it is still `mixed_bfloat16`, so adapter
    weights never lose precision.
    """
    base_policy = keras.dtype_policies.get(base_policy)
    compute = base_policy.compute_dtype
    if compute in ("bfloat16", "float16"):
        return keras.dtype_policies.DTypePolicy(f"mixed_{compute}")
    return keras.dtype_policies.DTypePolicy("float32")


def unquantized_policy(policy):
    """`policy` itself, or the policy a Keras-quantised layer computes in.

    A layer quantised by `layer.quantize(mode)` gets the policy
    `"<mode>_from_<source>"` (e.g. `"int8_from_mixed_bfloat16"`); a wrapper
    around it must not be quantised itself, so it takes `<source>`.
    """
    policy = keras.dtype_policies.get(policy)
    if policy.quantization_mode is None:
        return policy
    return keras.dtype_policies.DTypePolicy(policy.name.rpartition("_from_")[2])
