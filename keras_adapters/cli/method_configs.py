"""From command-line options to a method config (or `None` for full fine-tuning)."""

METHODS = ("lora", "pfeiffer", "houlsby", "parallel", "prefix", "full")
HEAD = ("logits",)
ALL_LINEAR = "all-linear"


def add_method_arguments(parser):
    group = parser.add_argument_group("method hyperparameters")
    group.add_argument(
        "--method",
        default="lora",
        choices=METHODS,
        help="adapter method, or `full` fine-tuning as the baseline (default: lora)",
    )
    group.add_argument("--rank", type=int, default=8, help="LoRA rank (default: 8)")
    group.add_argument(
        "--alpha", type=float, default=16.0, help="LoRA alpha; scale = alpha/rank (default: 16)"
    )
    group.add_argument(
        "--lora-dropout", type=float, default=0.0, help="dropout on the LoRA input (default: 0)"
    )
    group.add_argument(
        "--rslora", action="store_true", help="rank-stabilised LoRA scale alpha/sqrt(rank)"
    )
    group.add_argument(
        "--targets",
        default=ALL_LINEAR,
        help="comma-separated LoRA targets: slots (query, key, value, attention_output, "
        "ffn_gate, ffn_intermediate, ffn_output...) or layer paths/suffixes; `all-linear` = every "
        "projection slot of the backbone (default: all-linear)",
    )
    group.add_argument(
        "--reduction-factor",
        type=int,
        default=16,
        help="bottleneck width = hidden / factor (default: 16)",
    )
    group.add_argument(
        "--bottleneck-dim",
        type=int,
        default=None,
        help="bottleneck width (overrides --reduction-factor)",
    )
    group.add_argument(
        "--activation",
        default=None,
        help="bottleneck activation (default: the placement's: relu, swish for houlsby)",
    )
    group.add_argument(
        "--prefix-tokens", type=int, default=10, help="prefix length per layer (default: 10)"
    )
    group.add_argument(
        "--reparameterize",
        action="store_true",
        help="train prefixes through an MLP (folded before saving)",
    )
    group.add_argument(
        "--layers", default=None, help="comma-separated block indices to adapt (default: all)"
    )


def method_config(args, modules_to_save=HEAD):
    """Builds the config for `args.method`; raises `ValueError` on bad values."""
    import keras_adapters

    layers = _layers(args.layers)
    common = {"layers": layers, "modules_to_save": modules_to_save}
    if args.method == "full":
        return None
    if args.method == "lora":
        targets = (
            ALL_LINEAR
            if args.targets.strip() == ALL_LINEAR
            else [t.strip() for t in args.targets.split(",") if t.strip()]
        )
        return keras_adapters.LoraConfig(
            rank=args.rank,
            alpha=args.alpha,
            dropout=args.lora_dropout,
            use_rslora=args.rslora,
            targets=targets,
            **common,
        )
    if args.method == "prefix":
        return keras_adapters.PrefixConfig(
            num_prefix_tokens=args.prefix_tokens, reparameterize=args.reparameterize, **common
        )
    config_class = {
        "pfeiffer": keras_adapters.PfeifferConfig,
        "houlsby": keras_adapters.HoulsbyConfig,
        "parallel": keras_adapters.ParallelConfig,
    }[args.method]
    extra = {} if args.activation is None else {"activation": args.activation}
    return config_class(
        bottleneck_dim=args.bottleneck_dim,
        reduction_factor=args.reduction_factor,
        **extra,
        **common,
    )


def _layers(text):
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"`--layers` must be comma-separated block indices. Received: --layers={text!r}"
        ) from None
