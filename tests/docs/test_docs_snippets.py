"""Every ```python and ```bash block of README.md and docs/*.md runs.

Blocks of one file run in order inside a scratch directory: python blocks
together as one script in a fresh interpreter (so a page cannot leak state,
such as a registered spec, into other tests), bash blocks each in a shell. ```text, ```json and
```console blocks are output examples and are not run. A file containing
`<!-- docs-test: slow -->` (real checkpoint, real training) runs only with
`--slow`. A block right after `<!-- docs-test: skip (reason) -->` is not run
here; the reason names what runs it instead (the README set-up commands are
what `.ci/run` and the end-to-end CLI test run).
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(
    r"^(<!-- docs-test: skip[^\n]*-->\n)?```(python|bash)\n(.*?)^```", re.DOTALL | re.MULTILINE
)


def _blocks(path):
    return [(kind, body) for skip, kind, body in BLOCK.findall(path.read_text()) if not skip]


def _params():
    for path in FILES:
        if not _blocks(path):
            continue
        marks = [pytest.mark.slow] if "<!-- docs-test: slow -->" in path.read_text() else []
        yield pytest.param(path, marks=marks, id=str(path.relative_to(ROOT)))


def _run(command, body, path, index, cwd, env):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"{path.name} block {index} failed:\n{body}\n--- stdout\n{result.stdout[-3000:]}"
        f"\n--- stderr\n{result.stderr[-3000:]}"
    )


@pytest.mark.parametrize("path", list(_params()))
def test_snippets_run(path, tmp_path):
    bin_dir = os.path.dirname(sys.executable)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        # The snippets run in a scratch directory: import this checkout's package, not
        # whichever one the interpreter has installed (another worktree's, say).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "KERAS_BACKEND": "tensorflow",
    }
    blocks = _blocks(path)
    script = "\n\n".join(body for kind, body in blocks if kind == "python")
    if script:
        (tmp_path / "docs_snippets.py").write_text(script)
        _run([sys.executable, "docs_snippets.py"], script, path, "python", tmp_path, env)
    for index, (kind, body) in enumerate(blocks):
        if kind == "bash":
            _run(["bash", "-euo", "pipefail", "-c", body], body, path, index, tmp_path, env)


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python -m pytest --slow"
    assert command in readme and command in ci
