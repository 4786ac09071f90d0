"""Builds the tutorial notebooks from their percent-format sources.

Each `src/NN_name.py` is a plain Python file split into cells by lines that
start with `# %%`; a `# %% [markdown]` cell holds Markdown as `# ` comment
lines. The notebooks are written without outputs (small diffs; run them to
see the outputs):

    python examples/tutorials/build_notebooks.py

`tests/examples/test_tutorials.py` checks that the committed notebooks are
what this script builds, and runs each one.
"""

import pathlib

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = HERE / "src"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def read_cells(source_text):
    """Splits a percent-format source into `(kind, text)` cells."""
    cells, kind, lines = [], None, []
    for line in source_text.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, lines))
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind is None:
            continue  # file header (lint pragmas) before the first cell
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def build_notebook(source_path):
    """Returns the `nbformat` notebook for one source file."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    for index, (kind, text) in enumerate(read_cells(source_path.read_text())):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(text)
        cell["id"] = f"{source_path.stem[:2]}-{index:02d}"
        notebook.cells.append(cell)
    return notebook


def notebook_text(source_path):
    """The exact file contents of the notebook built from `source_path`."""
    return nbformat.writes(build_notebook(source_path)) + "\n"


def main():
    for source_path in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        target = HERE / f"{source_path.stem}.ipynb"
        target.write_text(notebook_text(source_path))
        print(f"wrote {target.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
