"""The classroom tutorials: up to date with their sources, and they run."""

import importlib.util

import pytest

from tests.examples.notebook_runner import TUTORIALS, images, run_notebook


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", TUTORIALS / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_match_their_sources():
    builder = _builder()
    sources = sorted((TUTORIALS / "src").glob("[0-9][0-9]_*.py"))
    assert sources
    for source in sources:
        notebook = TUTORIALS / f"{source.stem}.ipynb"
        assert notebook.read_text() == builder.notebook_text(source), (
            f"{notebook.name} is stale: run python examples/tutorials/build_notebooks.py"
        )


def test_read_cells_splits_markdown_and_code():
    cells = _builder().read_cells(
        "# ruff: noqa\n# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n"
    )
    assert cells == [("markdown", "# Title\ntext"), ("code", "x = 1")]


@pytest.mark.slow
def test_lesson_1_lora_from_scratch(tmp_path):
    notebook, values = run_notebook(
        "01_lora_from_scratch.ipynb",
        tmp_path,
        [
            "lora_parameters",
            "full_update_parameters",
            "layer_error",
            "report_counts",
            "accuracy_before",
            "accuracy_after",
            "majority_baseline",
            "batch_losses",
        ],
    )
    assert values["full_update_parameters"] == 384 * 384
    assert values["lora_parameters"] == 8 * (384 + 384)
    assert values["layer_error"] < 1e-3
    # 6 blocks x (query, value) x (A + B), plus the 384 x 2 head and its bias.
    assert values["report_counts"] == [6 * 2 * 2 * 384 * 8, 384 * 2 + 2]
    assert len(values["batch_losses"]) == 48
    assert values["batch_losses"][-1] < values["batch_losses"][0]
    assert values["accuracy_after"] > values["majority_baseline"]
    assert values["accuracy_after"] > values["accuracy_before"]
    assert images(notebook) == 1


@pytest.mark.slow
def test_lesson_2_methods_side_by_side(tmp_path):
    notebook, values = run_notebook(
        "02_methods_side_by_side.ipynb",
        tmp_path,
        ["results", "conclusions", "majority_baseline", "restored_difference"],
    )
    # Deleting the adapters gave back the pretrained model before full fine-tuning.
    assert values["restored_difference"] < 1e-5
    rows = {row["method"]: row for row in values["results"]}
    head = 384 * 2 + 2
    assert {name: row["trainable"] for name, row in rows.items()} == {
        # 6 blocks x (down 384x24 + 24, up 24x384 + 384): bottleneck 384 / 16.
        "bottleneck adapter": 6 * (384 * 24 + 24 + 24 * 384 + 384) + head,
        "LoRA": 6 * 2 * 2 * 384 * 8 + head,
        # 6 blocks x 10 prefix tokens x (key, value) x 384.
        "prefix tuning": 6 * 10 * 2 * 384 + head,
        "full fine-tuning": rows["full fine-tuning"]["trainable"],
    }
    assert rows["full fine-tuning"]["percent"] == pytest.approx(100.0)
    assert rows["full fine-tuning"]["trainable"] > 22_000_000
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["step_seconds"] > 0.0
    assert len(values["conclusions"]) == 3
    assert images(notebook) == 1


@pytest.mark.slow
def test_lesson_3_one_backbone_many_tasks(tmp_path):
    notebook, values = run_notebook(
        "03_one_backbone_many_tasks.ipynb",
        tmp_path,
        [
            "accuracy_trained",
            "accuracy_reloaded",
            "predictions",
            "served_labels",
            "adapter_bytes",
            "backbone_bytes",
        ],
    )
    # Loading a task's adapter file gives back exactly the trained model.
    assert values["accuracy_reloaded"] == values["accuracy_trained"]["sentiment"]
    # Opinion vs plot sentence is an easy task: far above the balanced 0.5.
    assert values["accuracy_trained"]["subjectivity"] > 0.7
    # The SavedModel, in a TensorFlow-only process, agrees with the Keras model.
    assert values["served_labels"] == values["predictions"]["subjectivity"]
    for size in values["adapter_bytes"].values():
        assert size < values["backbone_bytes"] / 100
    assert (tmp_path / "adapters" / "sentiment" / "adapter_config.json").is_file()
    assert (tmp_path / "serving" / "subjectivity" / "1" / "saved_model.pb").is_file()


@pytest.mark.slow
def test_lesson_4_fine_tune_a_small_llm(tmp_path):
    _, values = run_notebook(
        "04_fine_tune_a_small_llm.ipynb",
        tmp_path,
        ["scores", "answers_before", "answers_after", "report_trainable", "losses"],
    )
    # Rank 4 on q, o (576 -> 576), k, v (576 -> 192), gate, up (576 -> 1536), down (1536 -> 576).
    per_block = 4 * (2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536))
    assert values["report_trainable"] == 30 * per_block
    perplexity_before, perplexity_after = values["scores"]["perplexity"]
    assert perplexity_after < perplexity_before
    assert len(values["answers_after"]) == len(values["answers_before"]) == 3
    # The lesson's point: after training the model answers with one label word.
    assert set(values["answers_after"]) <= {"positive", "negative"}
    assert len(values["losses"]) == 1
