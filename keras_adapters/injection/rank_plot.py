"""`plot_ranks`: a picture of where a rank-adaptive adapter kept its rank."""

import pathlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_adapters.injection.trainable_report import trainable_report


def plot_ranks(model, path, adapter_name=None):
    """Writes a PNG heatmap of the rank of every adapted matrix, block by projection.

    Args:
        model: a model with a rank-adaptive adapter (`keras_adapters.AdaLoraConfig`).
        path: the PNG file to write.
        adapter_name: which adapter; defaults to the only rank-adaptive one.

    Returns:
        The path written, as a `pathlib.Path`.

    Example:
    ```python
    classifier.fit(data, epochs=3)
    keras_adapters.plot_ranks(classifier, "ranks.png")
    ```
    """
    ranks = trainable_report(model).ranks
    if adapter_name is None:
        if len(ranks) != 1:
            raise ValueError(
                "Pass `adapter_name`: rank plots need one rank-adaptive adapter "
                f"(AdaLoRA); this model has {len(ranks)}: {list(ranks)}."
            )
        adapter_name = next(iter(ranks))
    if adapter_name not in ranks:
        raise ValueError(
            "`adapter_name` must name a rank-adaptive adapter (AdaLoRA) of the model: "
            f"{list(ranks)}. Received: adapter_name={adapter_name!r}"
        )
    entries = ranks[adapter_name]
    projections = list(dict.fromkeys(r.projection for r in entries))
    blocks = sorted({r.block for r in entries})
    grid = np.full((len(blocks), len(projections)), np.nan)
    for r in entries:
        grid[blocks.index(r.block), projections.index(r.projection)] = r.rank
    figure = Figure(figsize=(2.0 + 1.1 * len(projections), 1.5 + 0.35 * len(blocks)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    highest = max(r.initial_rank for r in entries)
    image = axes.imshow(grid, cmap="viridis", vmin=0, vmax=highest, aspect="auto")
    for (row, column), value in np.ndenumerate(grid):
        if not np.isnan(value):
            color = "black" if value > 0.6 * highest else "white"  # readable on viridis
            axes.text(column, row, f"{int(value)}", ha="center", va="center", color=color)
    axes.set_xticks(range(len(projections)), labels=projections, rotation=30, ha="right")
    axes.set_yticks(range(len(blocks)), labels=[str(b) for b in blocks])
    axes.set_xlabel("projection")
    axes.set_ylabel("block")
    kept, initial = sum(r.rank for r in entries), sum(r.initial_rank for r in entries)
    axes.set_title(f"ranks of {adapter_name!r}: {kept} of {initial} triplets kept")
    figure.colorbar(image, ax=axes, label="rank")
    figure.tight_layout()
    path = pathlib.Path(path)
    figure.savefig(path, dpi=100)
    return path
