"""From command-line options to a method config (or `None` for full fine-tuning)."""

METHODS = (
    "lora",
    "dora",
    "adalora",
    "ia3",
    "pfeiffer",
    "houlsby",
    "parallel",
    "prefix",
    "mam",
    "prompt",
    "full",
)
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
        default=None,
        help="comma-separated targets of LoRA, DoRA and IA3: slots (query, key, value, "
        "attention_output, ffn_gate, ffn_intermediate, ffn_output...) or layer paths/suffixes; "
        "`all-linear` = every projection slot of the backbone (default: all-linear for LoRA and "
        "DoRA; key,value,ffn_output for IA3, ffn_output scaled at its input)",
    )
    group.add_argument(
        "--init-rank",
        type=int,
        default=12,
        help="AdaLoRA rank per matrix at the start (default: 12)",
    )
    group.add_argument(
        "--target-rank",
        type=int,
        default=8,
        help="AdaLoRA average rank per matrix at the end; the schedule spans the whole run "
        "(warm-up 10%%, budget frozen for the last 20%%) (default: 8)",
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
        "--prefix-tokens",
        type=int,
        default=10,
        help="prefix length per layer, prefix and mam (default: 10)",
    )
    group.add_argument(
        "--reparameterize",
        action="store_true",
        help="train prefixes through an MLP (folded before saving)",
    )
    group.add_argument(
        "--prompt-length",
        type=int,
        default=20,
        help="prompt tuning: number of learned prompt tokens (default: 20)",
    )
    group.add_argument(
        "--prompt-init-text",
        default=None,
        help="prompt tuning: start from the embeddings of this text's tokens, repeated to fill "
        "--prompt-length (default: embeddings of random vocabulary tokens)",
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
    return _BUILDERS[args.method](keras_adapters, args, common)


def _targets(args, default):
    if args.targets is None:
        return default
    if args.targets.strip() == ALL_LINEAR:
        return ALL_LINEAR
    return [t.strip() for t in args.targets.split(",") if t.strip()]


def _low_rank(config_class):
    def build(keras_adapters, args, common):
        return getattr(keras_adapters, config_class)(
            rank=args.rank,
            alpha=args.alpha,
            dropout=args.lora_dropout,
            use_rslora=args.rslora,
            targets=_targets(args, ALL_LINEAR),
            **common,
        )

    return build


def _adalora(keras_adapters, args, common):
    # `total_steps` is set once the run knows its length (`with_schedule`).
    return keras_adapters.AdaLoraConfig(
        init_rank=args.init_rank,
        target_rank=args.target_rank,
        total_steps=1,
        dropout=args.lora_dropout,
        targets=_targets(args, ALL_LINEAR),
        **common,
    )


def with_schedule(config, steps):
    """The config with its training schedule fitted to a run of `steps` optimizer steps."""
    if config is None or config.method != "adalora":
        return config
    return config.replace(
        total_steps=steps,
        warmup_steps=steps // 10,
        final_steps=steps // 5,
        reallocation_interval=max(1, steps // 40),
    )


def _ia3(keras_adapters, args, common):
    targets = _targets(args, ("key", "value", "ffn_output"))
    feedforward = [
        t for t in ("ffn_output",) if isinstance(targets, (list, tuple)) and t in targets
    ]
    return keras_adapters.IA3Config(targets=targets, feedforward=feedforward, **common)


def _bottleneck(config_class):
    def build(keras_adapters, args, common):
        extra = {} if args.activation is None else {"activation": args.activation}
        return getattr(keras_adapters, config_class)(
            bottleneck_dim=args.bottleneck_dim,
            reduction_factor=args.reduction_factor,
            **extra,
            **common,
        )

    return build


def _prefix(keras_adapters, args, common):
    return keras_adapters.PrefixConfig(
        num_prefix_tokens=args.prefix_tokens, reparameterize=args.reparameterize, **common
    )


def _mam(keras_adapters, args, common):
    extra = {} if args.activation is None else {"activation": args.activation}
    return keras_adapters.MamConfig(
        num_prefix_tokens=args.prefix_tokens,
        reparameterize=args.reparameterize,
        bottleneck_dim=args.bottleneck_dim,
        reduction_factor=args.reduction_factor,
        **extra,
        **common,
    )


def _prompt(keras_adapters, args, common):
    return keras_adapters.PromptConfig(
        num_virtual_tokens=args.prompt_length, init_text=args.prompt_init_text, **common
    )


_BUILDERS = {
    "lora": _low_rank("LoraConfig"),
    "dora": _low_rank("DoraConfig"),
    "adalora": _adalora,
    "ia3": _ia3,
    "pfeiffer": _bottleneck("PfeifferConfig"),
    "houlsby": _bottleneck("HoulsbyConfig"),
    "parallel": _bottleneck("ParallelConfig"),
    "prefix": _prefix,
    "mam": _mam,
    "prompt": _prompt,
}


def _layers(text):
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"`--layers` must be comma-separated block indices. Received: --layers={text!r}"
        ) from None
