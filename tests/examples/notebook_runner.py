"""Runs a tutorial notebook in a fresh Jupyter kernel and reads back its variables."""

import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "examples" / "tutorials"
_MARKER = "__tutorial_checks__="


def _kernel_manager(kernel_dir, working_dir):
    """A kernel manager for this interpreter, importing this checkout's package."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = pathlib.Path(kernel_dir) / "tutorial-python"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tutorial python",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="tutorial-python", kernel_spec_manager=specs)


def run_notebook(name, working_dir, variables, timeout=600):
    """Executes `examples/tutorials/<name>` top to bottom in `working_dir`.

    Args:
        name: the notebook file name.
        working_dir: the kernel's current directory (files the lesson writes).
        variables: names of notebook variables to return (JSON-serialisable
            after `float()`/`int()`/`list()` where needed).
        timeout: seconds allowed for any one cell.

    Returns:
        A tuple `(notebook, values)`: the executed notebook and a dict of the
        requested variables.
    """
    import nbclient
    import nbformat

    notebook = nbformat.read(TUTORIALS / name, as_version=4)
    probe = (
        "import json as _json\n"
        f"print({_MARKER!r} + _json.dumps({{_k: globals()[_k] for _k in {list(variables)!r}}},"
        " default=lambda v: v.item() if hasattr(v, 'item') else list(v)))"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    kernel_dir = pathlib.Path(working_dir) / ".kernel"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = nbclient.NotebookClient(
        notebook,
        km=_kernel_manager(kernel_dir, working_dir),
        timeout=timeout,
        resources={"metadata": {"path": str(working_dir)}},
    )
    client.execute(env=env, cwd=str(working_dir))
    for output in notebook.cells[-1].outputs:
        text = output.get("text", "")
        if _MARKER in text:
            return notebook, json.loads(text.split(_MARKER, 1)[1])
    raise AssertionError(f"{name}: the probe cell printed nothing: {notebook.cells[-1].outputs}")


def images(notebook):
    """The number of inline PNG images the executed notebook shows."""
    return sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    )
