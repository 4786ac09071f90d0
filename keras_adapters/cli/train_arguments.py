"""The flags of `keras-adapters train` and their per-task defaults."""

from keras_adapters.cli.causal_lm_job import add_causal_lm_arguments
from keras_adapters.cli.method_configs import add_method_arguments
from keras_adapters.cli.run_directory import add_checkpoint_arguments
from keras_adapters.cli.token_classification_job import add_token_classification_arguments

TASKS = ("text-classification", "causal-lm", "token-classification")
# Defaults that depend on the task; flags left unset take these.
TASK_DEFAULTS = {
    "text-classification": dict(
        data="rotten_tomatoes",
        xla=True,
        backbone="minilm_l6",
        sequence_length=48,
        batch_size=32,
        train_examples=0,
        adapter_learning_rate=3e-3,
        full_learning_rate=5e-5,
    ),
    "causal-lm": dict(
        data="rotten_tomatoes",
        xla=True,
        backbone="smollm2_135m_instruct",
        sequence_length=104,
        batch_size=8,
        train_examples=1200,
        adapter_learning_rate=1e-3,
        full_learning_rate=2e-5,
    ),
    # CoNLL-2003 NER; a few minutes on 2 cores: a fixed random subset of the
    # training sentences, 1,000 test sentences (`--test-examples 0` for all).
    # XLA off: on CPU it compiles every batch width and runs steps slower.
    "token-classification": dict(
        data="conll2003",
        xla=False,
        backbone="minilm_l6",
        sequence_length=128,
        batch_size=32,
        train_examples=5000,
        adapter_learning_rate=3e-3,
        full_learning_rate=3e-4,
    ),
}


def add_arguments(parser):
    parser.add_argument(
        "--task",
        default="text-classification",
        choices=TASKS,
        help="text-classification: an encoder and a classifier head (default); causal-lm: a "
        "decoder LLM answering instruction prompts built from the labelled text, scored by the "
        "likelihood of each label word; token-classification: named-entity recognition (a tag "
        "per word, entity F1) on CoNLL-2003",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default=None,
        help="dataset preset, a .csv/.jsonl file, or tfds:NAME (default: rotten_tomatoes); "
        "token-classification: conll2003 or a folder of CoNLL files train.txt, valid.txt, "
        "test.txt",
    )
    data.add_argument(
        "--text-column", default="text", help="text column of a CSV/JSONL file (default: text)"
    )
    data.add_argument(
        "--label-column", default="label", help="label column of a CSV/JSONL file (default: label)"
    )
    data.add_argument(
        "--data-dir",
        default=None,
        help="TensorFlow Datasets data directory (tfds: sources; nothing is downloaded)",
    )
    data.add_argument(
        "--split-seed",
        type=int,
        default=1337,
        help="seed of the fixed train/validation/test split (default: 1337)",
    )
    data.add_argument(
        "--train-examples",
        type=int,
        default=None,
        help="number of training examples used, 0 for all (default: 0, the whole train split; "
        "causal-lm: 1200; token-classification: 5000 sentences, a fixed random subset)",
    )
    model = parser.add_argument_group("model and training")
    model.add_argument(
        "--backbone",
        default=None,
        help="backbone preset (default: minilm_l6; causal-lm: smollm2_135m_instruct; "
        "token-classification: minilm_l6)",
    )
    model.add_argument(
        "--sequence-length",
        type=int,
        default=None,
        help="tokens per text, > 0 (default: 48; causal-lm: 104, prompt and answer; "
        "token-classification: 128 word pieces)",
    )
    model.add_argument("--batch-size", type=int, default=None, help="(default: 32; causal-lm: 8)")
    model.add_argument("--epochs", type=int, default=1, help="(default: 1)")
    model.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (default: 3e-3 for adapters, 5e-5 for full; causal-lm: 1e-3 "
        "and 2e-5; token-classification: 3e-3 and 3e-4)",
    )
    model.add_argument(
        "--seed",
        type=int,
        default=1337,
        help="seeds new weights, dropout and shuffling (default: 1337)",
    )
    model.add_argument(
        "--no-xla",
        dest="xla",
        action="store_false",
        default=None,
        help="do not compile with XLA (jit_compile=False; the default for token-classification)",
    )
    model.add_argument(
        "--xla", dest="xla", action="store_true", default=None, help="compile with XLA"
    )
    model.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_bfloat16 compute, float32 adapter weights",
    )
    add_method_arguments(parser)
    add_causal_lm_arguments(parser)
    add_token_classification_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-dir", default=None, help="where to write the run (default: runs/<method>-<time>)"
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output directory that holds a previous run",
    )
    add_checkpoint_arguments(output)
    output.add_argument(
        "--cache-dir",
        default=None,
        help="asset cache (default: $KERAS_ADAPTERS_CACHE or ~/.cache/keras_adapters)",
    )
    output.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Keras progress output: 0 silent, 1 bars, 2 one line per epoch",
    )


def resolve_task_defaults(args):
    """Fills the flags left unset with the task's defaults."""
    defaults = TASK_DEFAULTS[args.task]
    for name in ("data", "xla", "backbone", "sequence_length", "batch_size", "train_examples"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    if args.learning_rate is None:
        full = args.method == "full"
        args.learning_rate = defaults["full_learning_rate" if full else "adapter_learning_rate"]


def check_numbers(args):
    """Refuses non-positive sizes and learning rates before any work."""
    for name in ("sequence_length", "batch_size", "epochs"):
        value = getattr(args, name)
        if value <= 0:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"`{flag}` must be a positive integer. Received: {flag}={value}")
    if args.train_examples < 0:
        raise ValueError(
            f"`--train-examples` must be >= 0 (0 = all). Received: --train-examples={args.train_examples}"
        )
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise ValueError(
            f"`--learning-rate` must be > 0. Received: --learning-rate={args.learning_rate}"
        )
