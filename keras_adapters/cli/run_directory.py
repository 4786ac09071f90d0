"""`RunDirectory`: a `train` run's output directory while it trains, after a kill, after a failure.

While a run trains, its directory holds `status.json` (the run's flags and
state) and `checkpoint/` (see `TrainingCheckpoint`). A finished run's files
replace both at once at the end; a killed run keeps them for `--resume`; a
run stopped by a non-finite loss is marked `"failed"` in `status.json` and
keeps its last good checkpoint.
"""

import datetime
import hashlib
import json
import os
import pathlib
import tempfile

from keras_adapters.cli import run_files
from keras_adapters.cli.training_checkpoint import TrainingCheckpoint
from keras_adapters.saving.atomic_directory import check_replaceable
from keras_adapters.saving.checked_files import read_json_object

STATUS = "status.json"
CHECKPOINT_DIR = "checkpoint"
# Flags that may change between a run and its resumption; every other one must match.
FREE_FLAGS = (
    "resume",
    "overwrite",
    "verbose",
    "cache_dir",
    "data_dir",
    "output_dir",
    "checkpoint_every",
)


DEFAULT_CHECKPOINT_EVERY = 50


def add_checkpoint_arguments(group):
    """`--resume` and `--checkpoint-every`, in `train`'s output group."""
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run in --output-dir from its last checkpoint (same flags); "
        "starts it if the directory is empty or missing",
    )
    group.add_argument(
        "--checkpoint-every",
        type=int,
        default=DEFAULT_CHECKPOINT_EVERY,
        help="training steps between checkpoints in <output-dir>/checkpoint/, 0 for after each "
        f"epoch only (default: {DEFAULT_CHECKPOINT_EVERY}); removed when the run finishes",
    )


def training_flags(args):
    """The flags that define a run's training, as JSON values."""
    return {
        key: value
        for key, value in sorted(vars(args).items())
        if key not in FREE_FLAGS and isinstance(value, (str, int, float, bool, type(None)))
    }


def data_fingerprint(texts, labels):
    """A sha256 of the training examples, to notice data changed under a resumed run."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(f"{int(label)}\t{text}\n".encode())
    return digest.hexdigest()


class RunDirectory:
    """The output directory of one `keras-adapters train` run.

    Args:
        path: the directory (`--output-dir`).
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.checkpoint = TrainingCheckpoint(self.path / CHECKPOINT_DIR)
        self.notes = {}  # saved with every checkpoint

    def remembered(self, key, compute):
        """`compute()`'s dict of numbers, or the one a resumed run saved with its checkpoint.

        For work done before training (scoring the untrained model): a
        resumed run reuses the value instead of repeating the work.
        """
        position = self.checkpoint.read()
        if position and key in position["notes"]:
            value = position["notes"][key]
            print("  (measured before the interruption, kept with the checkpoint)")
        else:
            value = {name: float(number) for name, number in compute().items()}
        self.notes[key] = value
        return value

    def status(self):
        """`status.json` of an unfinished or failed run, or `None`.

        Raises:
            ValueError: the file is not one `train` wrote (read strictly).
        """
        path = self.path / STATUS
        if not (path.exists() or path.is_symlink()):
            return None
        status = read_json_object(path)
        if not (
            status.get("state") in ("training", "failed")
            and isinstance(status.get("flags"), dict)
            and isinstance(status.get("data_sha256"), str)
        ):
            raise ValueError(
                f"{str(path)!r} is not a status file written by `keras-adapters train` (it needs "
                "`state`, `flags` and `data_sha256`); pass --overwrite to start the run over."
            )
        return status

    def check(self, args):
        """Raises, before any work, unless `train` may write here with these flags.

        An unfinished run (killed, or stopped by a non-finite loss) is
        continued with `--resume` (same flags) or started over with
        `--overwrite`; any other use of its directory is refused, as is a
        finished run with `--resume`. `--resume` on a missing or empty
        directory starts the run, so one command line serves the first
        launch and every relaunch.
        """
        flag = f"--output-dir={str(self.path)!r}"
        if args.checkpoint_every < 0:
            raise ValueError(
                "`--checkpoint-every` must be >= 0 (0 = after each epoch only). Received: "
                f"--checkpoint-every={args.checkpoint_every}"
            )
        if args.resume and args.output_dir is None:
            raise ValueError(
                "`--resume` needs the `--output-dir` of the run to continue. Received: --resume "
                "without --output-dir"
            )
        if args.resume and args.overwrite:
            raise ValueError(
                "`--resume` continues a run and `--overwrite` starts it over: pass one of them. "
                f"Received: --resume --overwrite {flag}"
            )
        if args.overwrite and (self.path / STATUS).exists():
            return  # an unfinished run of ours, whatever its status file now holds
        status = self.status()
        if status is not None:
            if args.resume:
                self._check_same_flags(status["flags"], training_flags(args))
            elif not args.overwrite:
                raise FileExistsError(
                    f"`--output-dir` holds an unfinished run ({self.describe(status)}). Pass "
                    f"--resume to continue it or --overwrite to start over. Received: {flag}"
                )
            return
        if args.resume and (self.path / run_files.RUN_CONFIG).exists():
            raise FileExistsError(
                "`--output-dir` holds a finished run: there is nothing to resume (pass "
                f"--overwrite to train it again). Received: --resume {flag}"
            )
        check_replaceable(self.path, args.overwrite, run_files.RUN_CONFIG, "--output-dir")

    def describe(self, status):
        """A few words on an unfinished run: failed where, or checkpointed where."""
        if status["state"] == "failed":
            return f"it failed: {status.get('error', 'no message recorded')}"
        position = self.checkpoint.read()
        if position is None:
            return "it was interrupted before its first checkpoint"
        return (
            f"it was interrupted; the last checkpoint is at step {position['global_step']} of "
            f"{position['total_steps']}"
        )

    def start(self, args, fingerprint):
        """Marks the run as training: a new one, or the continuation of the unfinished one.

        Raises:
            ValueError: a resumed run's training data changed.
        """
        status = self.status() if args.resume else None
        now = datetime.datetime.now().isoformat(timespec="seconds")
        if args.resume and status is not None:
            if status["data_sha256"] != fingerprint:
                raise ValueError(
                    "`--resume` needs the training data of the interrupted run, but the training "
                    f"examples changed (sha256 {fingerprint[:12]}..., the run had "
                    f"{status['data_sha256'][:12]}...). Received: --data={args.data!r}"
                )
            position = self.checkpoint.read()
            where = f"step {position['global_step']}" if position else "the start"
            print(f"Resuming {self.path} from {where}.")
            status = {**status, "state": "training", "resumed": now}
            status.pop("error", None)
        else:
            if args.resume:
                print(f"Nothing to resume in {self.path}: starting the run.")
            self.checkpoint.clear()
            status = {
                "state": "training",
                "started": now,
                "flags": training_flags(args),
                "data_sha256": fingerprint,
            }
        self._write_status(status)

    def fail(self, error):
        """Marks the run as failed, with the error's message; the checkpoint stays."""
        status = self.status() or {}
        failed_at = {"step": error.step, "loss": str(error.loss)}
        self._write_status({**status, "state": "failed", "error": str(error), **failed_at})

    def _write_status(self, status):
        """Writes `status.json` under a temporary name and renames it into place."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{STATUS}.", dir=self.path)
        try:
            with os.fdopen(handle, "w") as file:
                file.write(json.dumps(status, indent=2) + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path / STATUS)
        except BaseException:
            pathlib.Path(temporary).unlink(missing_ok=True)
            raise

    def _check_same_flags(self, saved, current):
        differ = {
            key: (saved.get(key), current.get(key))
            for key in sorted(set(saved) | set(current))
            if saved.get(key) != current.get(key)
        }
        if differ:
            listed = ", ".join(
                f"--{key.replace('_', '-')}: {old!r} in the run, {new!r} now"
                for key, (old, new) in differ.items()
            )
            raise ValueError(
                f"`--resume` needs the same training flags as the interrupted run in "
                f"{self.path}; these differ: {listed}. Use the run's flags, or --overwrite to "
                "start over."
            )
