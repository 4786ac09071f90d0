"""`read_tfds`: labelled text from an already prepared TFDS data set."""

# Text and label features of TFDS data sets whose text is not called `text`.
TFDS_COLUMNS = {
    "imdb_reviews": ("text", "label"),
    "glue/sst2": ("sentence", "label"),
}


def read_tfds(name, data_dir=None, text_column="text", label_column="label"):
    """Reads the labelled `train` and `test` splits of a TFDS data set.

    Never downloads: the data set must be prepared in `data_dir` (or the
    TFDS default folder). Examples with a negative label (GLUE hides its
    test labels as -1) are dropped. The test split is the TFDS `test` split
    when it holds labelled examples, else the TFDS `validation` split when
    that does, else None (the caller carves one from train).

    If `text_column` (or `label_column`) is left at its default and is not
    a feature of the data set, the feature listed in `TFDS_COLUMNS` is used
    (e.g. `sentence` for `glue/sst2`).

    Args:
        name: str. A TFDS name such as `"imdb_reviews"` or `"glue/sst2"`.
        data_dir: optional str. The TFDS data folder.
        text_column: str. The text feature.
        label_column: str. The label feature (a `ClassLabel` or integer).

    Returns:
        A tuple `(train, test, label_names)`: `train` and `test` are
        `(texts, labels)` pairs of lists (`test` may be None), and
        `label_names` is a tuple of str, or None when the label feature has
        no names.
    """
    import tensorflow_datasets as tfds

    source = f"tfds:{name}"
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"Unknown TFDS data set {name!r} (see `tfds.list_builders()`). "
            f"Received: source={source!r}"
        ) from error
    features = builder.info.features
    text_column, label_column = _columns(name, features, text_column, label_column)
    label_feature = features[label_column]
    label_names = tuple(getattr(label_feature, "names", None) or ()) or None
    known_splits = set(builder.info.splits)

    def read(split):
        if known_splits and split not in known_splits:
            return None
        try:
            dataset = tfds.load(name, split=split, data_dir=data_dir, download=False)
        except ValueError:
            # Split names are unknown until a data set is prepared (and
            # under `tfds.testing.mock_data`): a missing split is no error.
            if known_splits:
                raise
            return None
        except AssertionError as error:  # What TFDS raises when unprepared.
            raise FileNotFoundError(
                f"The TFDS data set {name!r} is not prepared in "
                f"data_dir={data_dir!r}, and keras_adapters never downloads "
                "TFDS data. Prepare it where the internet is reachable, e.g. "
                f"`tfds build {name} --data_dir DIR`, copy DIR here and pass "
                f"data_dir=DIR. Received: source={source!r}"
            ) from error
        texts, labels = [], []
        for batch in tfds.as_numpy(dataset.batch(4096)):
            for text, label in zip(batch[text_column], batch[label_column]):
                if int(label) < 0:
                    continue
                texts.append(text.decode("utf-8"))
                labels.append(int(label))
        return texts, labels

    train = read("train")
    if train is None:
        raise ValueError(
            f"The TFDS data set {name!r} has no `train` split. Splits "
            f"found: {sorted(known_splits)}. Received: source={source!r}"
        )
    test = read("test")
    if not test or not test[0]:
        test = read("validation")
    if test is not None and not test[0]:
        test = None
    return train, test, label_names


def _columns(name, features, text_column, label_column):
    found = sorted(features.keys())
    base = name.split(":")[0]
    fallback = TFDS_COLUMNS.get(base) or TFDS_COLUMNS.get(base.split("/")[0], (None, None))
    columns = []
    for arg, column, default, fallback_column in (
        ("text_column", text_column, "text", fallback[0]),
        ("label_column", label_column, "label", fallback[1]),
    ):
        if column not in found:
            # Only a column left at its default falls back to the table.
            if column != default or fallback_column not in found:
                raise ValueError(
                    f"`{arg}` is not a feature of the TFDS data set "
                    f"{name!r}. Features found: {found}. "
                    f"Received: {arg}={column!r}"
                )
            column = fallback_column
        columns.append(column)
    return columns
