"""Reading files that may come from elsewhere: regular files, strict JSON, safetensors headers.

Only JSON and safetensors are read, never pickle or code. Each problem is a
`ValueError` (or `FileNotFoundError`) naming the file and what is wrong.
"""

import collections
import json
import math
import pathlib

import numpy as np
import safetensors

MAX_JSON_BYTES = 16 * 2**20
# safetensors dtype -> NumPy dtype; weights of any other dtype are refused.
FLOAT_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
_CONTROL = {chr(i) for i in range(32)} | {"\x7f"}


def check_regular_file(path):
    """Raises unless `path` is a regular file that is not a symbolic link."""
    path = pathlib.Path(path)
    if path.is_symlink():
        raise ValueError(
            f"{str(path)!r} is a symbolic link; keras-adapters reads only the regular files "
            "it wrote, so that a directory cannot point at files elsewhere. Copy the file "
            "in place of the link."
        )
    if not path.exists():
        raise FileNotFoundError(f"No such file: {str(path)!r}.")
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a regular file.")


def check_directory(path, argument="path"):
    """Raises unless `path` is a directory that is not a symbolic link."""
    path = pathlib.Path(path)
    if path.is_symlink():
        raise ValueError(
            f"{str(path)!r} is a symbolic link; keras-adapters reads only the directories it "
            f"wrote. Received: {argument}={str(path)!r}"
        )
    if not path.is_dir():
        raise FileNotFoundError(
            f"No such directory: {str(path)!r}. Received: {argument}={str(path)!r}"
        )


def read_json_object(path):
    """The JSON object in `path`, read strictly.

    Refused: a link or non-regular file, more than `MAX_JSON_BYTES`, bytes
    that are not UTF-8, invalid JSON, `NaN`/`Infinity` or a number too large
    for a float, a key repeated in one object, nesting too deep, and any
    top-level value but an object.
    """
    path = pathlib.Path(path)
    check_regular_file(path)
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(
            f"{str(path)!r} has {size:,} bytes, more than a config file may have "
            f"({MAX_JSON_BYTES:,})."
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{str(path)!r} is not UTF-8 text (byte {error.start + 1} is "
            f"{raw[error.start]:#04x}); it is not a JSON file written by keras-adapters."
        ) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_repeats,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise ValueError(f"{str(path)!r} is not valid JSON: nested too deeply.") from None
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{str(path)!r} must hold a JSON object. Received: a JSON {type(value).__name__}"
        )
    return value


def _object_without_repeats(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        counts = collections.Counter(key for key, _ in pairs)
        repeated = sorted(key for key, count in counts.items() if count > 1)
        raise ValueError(f"the key(s) {repeated} occur more than once in one object")
    return result


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a float")
    return value


def check_weight_key(key, path):
    """Raises unless `key` looks like a layer path: relative, no `..`, no control characters."""
    parts = key.split("/")
    if (
        not key
        or len(key) > 1000
        or key.startswith("/")
        or "\\" in key
        or ":" in key
        or any(part in ("", ".", "..") for part in parts)
        or any(c in _CONTROL for c in key)
    ):
        raise ValueError(
            f"{str(path)!r} holds a weight named {key[:200]!r}, which is not a layer path "
            "(weights are named by relative layer paths such as "
            "'transformer_layer_0/self_attention_layer/query/lora_a': no leading '/', "
            "no '..', '\\\\', ':' or control characters)."
        )


def read_safetensors_header(path):
    """`{key: (dtype name, shape)}` of a safetensors file, without reading the tensors.

    The safetensors library checks that the header is well formed and that
    every tensor's offsets and shape fit the file; here every key must be a
    layer path and every dtype a float dtype (`FLOAT_DTYPES`).
    """
    check_regular_file(path)
    try:
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            header = {
                key: (handle.get_slice(key).get_dtype(), tuple(handle.get_slice(key).get_shape()))
                for key in handle.keys()
            }
    except Exception as error:  # noqa: BLE001 - SafetensorError is not exported; any failure is bad data
        raise ValueError(
            f"Cannot read the safetensors file {str(path)!r}: {error}. It is truncated, "
            "corrupt, or not a safetensors file."
        ) from None
    for key, (dtype, _) in sorted(header.items()):
        check_weight_key(key, path)
        if dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"The weight {key!r} in {str(path)!r} has dtype {dtype}; adapter weights must "
                f"be floats ({', '.join(FLOAT_DTYPES)})."
            )
    return header


def read_float32_tensors(path, keys):
    """The tensors `keys` of a safetensors file as float32 arrays, all finite.

    Call `read_safetensors_header` first: it checks the keys and dtypes.
    """
    tensors = {}
    try:
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            for key in keys:
                tensors[key] = np.asarray(handle.get_tensor(key), dtype=np.float32)
    except Exception as error:  # noqa: BLE001 - any failure to read is bad data
        raise ValueError(f"Cannot read the tensors of {str(path)!r}: {error}") from None
    for key, value in tensors.items():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            raise ValueError(
                f"The weight {key!r} in {str(path)!r} holds {bad:,} NaN or infinite values "
                "(as float32); such weights would make every output NaN, so they are refused."
            )
    return tensors
