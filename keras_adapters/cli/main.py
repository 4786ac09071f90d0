"""Entry point of the `keras-adapters` console script."""

import argparse
import sys

from keras_adapters.cli import export_command, info_command, predict_command, train_command

COMMANDS = {
    "train": (
        train_command,
        "fine-tune a pretrained backbone with an adapter, evaluate, save and export "
        "(default: MiniLM-L6 + LoRA on Rotten Tomatoes, offline after one PyPI fetch)",
    ),
    "export": (export_command, "export a trained run as a TF Serving SavedModel"),
    "predict": (predict_command, "classify texts with a SavedModel or a trained run"),
    "info": (info_command, "list methods, supported backbones, presets and the cache"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-adapters",
        description="Parameter-efficient fine-tuning for Keras 3 and KerasHub.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None):
    """Runs one command; returns the process exit status.

    0 on success, 2 for bad input (as argparse does), 1 when a fetch fails.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"keras-adapters {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-adapters {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except Exception as error:
        from keras_adapters.assets import AssetFetchError

        if isinstance(error, AssetFetchError):
            print(f"keras-adapters {args.command}: error: {error}", file=sys.stderr)
            return 1
        raise


def one_line(error):
    """The message of `error` on one line: further lines joined with "; "."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip()


if __name__ == "__main__":
    sys.exit(main())
