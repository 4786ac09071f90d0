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
