"""`call_saved_model` and `verify_saved_model`: call a SavedModel as TF Serving would, in a fresh process."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from tensorflow.core.protobuf import saved_model_pb2

from keras_adapters.export.verified_outputs import VerifiedOutputs

# Runs in a fresh interpreter. It imports TensorFlow and TensorFlow Text (for
# the tokeniser ops) and nothing of KerasHub or keras-adapters: those imports
# are blocked, so the SavedModel must stand on its own. (`import tensorflow`
# and `import tensorflow_text` load `keras` themselves when it is installed,
# for `tf.keras`; the SavedModel does not need it.)
_PROBE = r"""
import json
import os
import sys

for blocked in ("keras_hub", "keras_nlp", "keras_adapters"):
    sys.modules[blocked] = None

import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokeniser ops)

request = json.load(sys.stdin)
loaded = tf.saved_model.load(request["path"])
if request["signature_name"] not in loaded.signatures:
    sys.exit(
        f"No signature {request['signature_name']!r} in the SavedModel; "
        f"signatures: {sorted(loaded.signatures)}"
    )
signature = loaded.signatures[request["signature_name"]]
outputs = signature(
    **{name: tf.constant(entry["value"], dtype=entry["dtype"]) for name, entry in request["inputs"].items()}
)
result = {}
for key, tensor in outputs.items():
    value = tensor.numpy()
    if tensor.dtype == tf.string:
        value = value.astype(object)
        result[key] = {"dtype": "string", "value": [v.decode("utf-8") for v in value.ravel()],
                       "shape": list(value.shape)}
    else:
        result[key] = {"dtype": tensor.dtype.name, "value": value.tolist()}
process = {
    "pid": os.getpid(),
    "executable": sys.executable,
    "loaded_project_modules": sorted(
        name for name, module in sys.modules.items()
        if module is not None and name.split(".")[0] in ("keras_hub", "keras_nlp", "keras_adapters")
    ),
}
with open(sys.argv[1], "w") as handle:
    json.dump({"outputs": result, "process": process}, handle)
"""


def call_saved_model(path, inputs, *, signature_name="serving_default", timeout=300):
    """Calls any signature of a SavedModel in a fresh TensorFlow-only process.

    Like `keras_adapters.export.verify_saved_model` (same fresh interpreter,
    KerasHub and keras-adapters imports blocked), for any signature: e.g. the
    text generation signatures of `keras_adapters.export.export_causal_lm`.

    Args:
        path: a SavedModel directory.
        inputs: dict of input name to a list of strings, a list of numbers, or
            one int (a scalar input, sent as int32).
        signature_name: the signature to call.
        timeout: seconds before the fresh process is stopped.

    Returns:
        A `keras_adapters.export.VerifiedOutputs`.

    Example:
    ```python
    outputs = keras_adapters.export.call_saved_model(
        "models/chat/1", {"prompts": ["Hello!"], "max_new_tokens": 8}, signature_name="generate"
    )
    outputs["text"]  # ["Hello! How can I help you today?"]
    ```
    """
    path = _check_signature(path, signature_name)
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(
            f"`inputs` must be a non-empty dict of input name to values. Received: inputs={inputs!r}"
        )
    request_inputs = {}
    for name, value in inputs.items():
        if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
            raise ValueError(
                f"`inputs[{name!r}]` must be a list of strings or numbers, or an int. Received: {value!r}"
            )
        values = [value] if isinstance(value, int) else list(value)
        dtype = (
            "string"
            if values and all(isinstance(v, str) for v in values)
            else ("int32" if all(isinstance(v, int) for v in values) else "float32")
        )
        request_inputs[name] = {
            "dtype": dtype,
            "value": value if isinstance(value, int) else values,
        }
    request = {
        "path": str(path.resolve()),
        "signature_name": signature_name,
        "inputs": request_inputs,
    }
    return _run_probe(request, timeout)


def _check_signature(path, signature_name):
    path = pathlib.Path(path)
    if not (path / "saved_model.pb").is_file():
        raise ValueError(
            "`path` must be a SavedModel directory (with saved_model.pb). "
            f"Received: path={str(path)!r}"
        )
    signatures = _signature_names(path)
    if signature_name not in signatures:
        raise ValueError(
            f"`signature_name` must be a signature of the SavedModel {sorted(signatures)}. "
            f"Received: signature_name={signature_name!r}"
        )
    return path


def verify_saved_model(
    path, texts, expected_logits=None, atol=1e-5, *, signature_name="serving_default", timeout=300
):
    """Calls a text-classifier SavedModel in a fresh process, as TF Serving would.

    A new Python interpreter (`sys.executable`) loads `path` with
    `tf.saved_model.load`, importing only `tensorflow` and `tensorflow_text`
    (imports of KerasHub and keras-adapters are blocked), and calls the
    signature on `texts`. Outputs come back as JSON. This catches what an
    in-process check cannot: Python objects, untracked resources or ops that
    the SavedModel silently relies on.

    Args:
        path: a SavedModel directory, e.g. written by
            `keras_adapters.export.export_text_classifier`.
        texts: a list of strings (one batch).
        expected_logits: optional array `[len(texts), classes]` to compare
            the `logits` output with.
        atol: largest absolute difference allowed against `expected_logits`.
        signature_name: the signature to call, e.g. `"adapter_sentiment"`.
        timeout: seconds before the fresh process is stopped.

    Returns:
        A `keras_adapters.export.VerifiedOutputs`: a dict with one entry per
        output of the signature, numeric outputs as NumPy arrays of their
        dtype (`"logits"`, `"probabilities"`), string outputs as lists of
        `str` (`"label"`); its `process` attribute says which process
        computed them (`pid`, `executable`, `loaded_project_modules`).

    Raises:
        AssertionError: if `expected_logits` is given and differs by more
            than `atol`; the message gives the largest difference.
        RuntimeError: if the fresh process fails (its error output is
            included).

    Example:
    ```python
    outputs = keras_adapters.export.verify_saved_model(
        "models/sentiment/1",
        ["a gripping, funny film"],
        expected_logits=classifier.predict(["a gripping, funny film"]),
    )
    outputs["label"]  # ["positive"]
    ```
    """
    path = _check_signature(path, signature_name)
    batch = None if isinstance(texts, (str, bytes)) or texts is None else list(texts)
    if not batch or not all(isinstance(text, str) for text in batch):
        raise ValueError(f"`texts` must be a non-empty list of strings. Received: texts={texts!r}")
    outputs = call_saved_model(
        path, {"texts": batch}, signature_name=signature_name, timeout=timeout
    )
    if expected_logits is not None:
        _compare(outputs["logits"], np.asarray(expected_logits, dtype="float32"), atol)
    return outputs


def _signature_names(path):
    """Signature names from `saved_model.pb`, read without loading the model."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    return {name for graph in saved_model.meta_graphs for name in graph.signature_def}


def _run_probe(request, timeout):
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    }
    with tempfile.TemporaryDirectory(prefix="keras_adapters_verify_") as scratch:
        result_file = pathlib.Path(scratch) / "outputs.json"
        # `-I`: no user site, no PYTHONPATH, no script or current directory on
        # sys.path, so the probe cannot pick up the project's source tree.
        completed = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, str(result_file)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=scratch,
            env=environment,
        )
        if completed.returncode != 0 or not result_file.exists():
            raise RuntimeError(
                f"Loading and calling the SavedModel in a fresh process failed "
                f"(exit code {completed.returncode}):\n{completed.stderr[-4000:]}"
            )
        raw = json.loads(result_file.read_text())
    outputs = VerifiedOutputs(process=raw["process"])
    for key, entry in raw["outputs"].items():
        if entry["dtype"] == "string":
            outputs[key] = np.reshape(
                np.array(entry["value"], dtype=object), entry["shape"]
            ).tolist()
        else:
            outputs[key] = np.asarray(entry["value"], dtype=entry["dtype"])
    return outputs


def _compare(actual, expected, atol):
    if actual.shape != expected.shape:
        raise AssertionError(
            f"The SavedModel's logits have shape {actual.shape}, expected {expected.shape}."
        )
    difference = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    if not difference <= atol:
        raise AssertionError(
            f"The SavedModel's logits differ from `expected_logits` by up to {difference:.3g} "
            f"(atol={atol:g})."
        )
