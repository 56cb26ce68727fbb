"""``python -m lstm_lib study run|report``: the variant study from the shell.

Examples::

    python -m lstm_lib study run --name order --task temporal-order --trials 40 --workers 2
    python -m lstm_lib study run --name order --storage sqlite:///order.db --trials 40  # more
    python -m lstm_lib study report --name order --storage sqlite:///order.db

    # on a lab's Dask cluster, with a PostgreSQL database as the storage
    python -m lstm_lib study run --name order-full --size full --trials 2000 \\
        --scheduler tcp://scheduler:8786 --storage postgresql://user:password@dbhost/studies

``run`` adds ``--trials`` finished trials to the study (created on first use, resumed after),
with a progress bar of finished trials; Ctrl-C stops cleanly and keeps every finished trial
(exit status 130). ``report`` prints the per-variant table (Welch's t-test against vanilla)
and the fANOVA importance of every hyperparameter. Bad arguments are usage errors (exit
status 2) before any work starts. See :mod:`lstm_lib.study`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstm_lib.study.driver import check_storage, default_storage
from lstm_lib.study.trial import SIZES, TASKS, VARIANTS, normalize_variants

__all__ = ["build_parser", "main"]


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstm_lib study",
        description="Greff et al.'s LSTM variant study: random search with Optuna, training "
                    "on Dask, fANOVA importances.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,report}")

    r = sub.add_parser("run", help="add trials to a study (created, or resumed)",
                       description="Add --trials finished trials to the study --name.")
    r.add_argument("--name", required=True, help="the study's name; it also seeds the trials")
    r.add_argument("--storage", default=None,
                   help="Optuna RDB URL (default: sqlite:///NAME.db); with --scheduler a "
                        "database server such as postgresql://user:password@host/db")
    r.add_argument("--task", choices=sorted(TASKS), default="temporal-order",
                   help="; ".join(f"{k}: {v.description}" for k, v in TASKS.items())
                   + " (default: %(default)s)")
    r.add_argument("--variants", default=",".join(VARIANTS),
                   help="comma-separated, from " + ",".join(VARIANTS) + " (default: all)")
    r.add_argument("--trials", type=_positive_int, required=True,
                   help="finished trials to add")
    r.add_argument("--workers", type=_positive_int, default=1,
                   help="1: train in this process; k: a local Dask cluster of k processes "
                        "(default: %(default)s)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://host:8786 (needs a server "
                        "--storage, not SQLite)")
    r.add_argument("--size", choices=SIZES, default="small",
                   help="sequence length and training steps (default: %(default)s)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("report", help="print the variant table and the importances")
    p.add_argument("--name", required=True)
    p.add_argument("--storage", default=None, help="Optuna RDB URL (default: sqlite:///NAME.db)")
    p.add_argument("--reference", default="vanilla",
                   help="the variant the others are tested against (default: %(default)s)")
    return parser


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Every usage error, before any work (parser.error exits with status 2)."""
    try:
        storage = default_storage(args.name) if args.storage is None else args.storage
        if args.command == "run":
            args.variants = normalize_variants(args.variants)
            if args.scheduler is not None and "://" not in args.scheduler:
                raise ValueError(f"--scheduler must be an address such as tcp://host:8786, "
                                 f"got {args.scheduler!r}")
            check_storage(storage, args.scheduler)
        else:
            check_storage(storage, None)
            args.reference = normalize_variants([args.reference])[0]
            path = storage.removeprefix("sqlite:///")
            if storage.startswith("sqlite:///") and path != ":memory:" and not Path(path).is_file():
                raise ValueError(f"--storage {storage!r}: no such SQLite file {path!r} (a "
                                 "report reads a study that `study run` wrote)")
    except ValueError as err:
        parser.error(str(err).replace("name must", "--name must")
                     .replace("variants must", "--variants must")
                     .replace("storage must", "--storage must"))
    args.storage = storage


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args, parser)
    if args.command == "report":
        from lstm_lib.study.analysis import report

        try:
            print(report(args.name, args.storage, reference=args.reference))
        except KeyError as err:
            parser.error(f"--name: {err.args[0]}")
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0

    from lstm_lib.study.driver import run_study

    try:
        summary = run_study(args.name, task=args.task, variants=args.variants,
                            trials=args.trials, storage=args.storage, workers=args.workers,
                            scheduler=args.scheduler, size=args.size,
                            progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"interrupted: every finished trial is kept in {args.storage}; run the same "
              "command again to continue", file=sys.stderr)
        return 130
    except ValueError as err:   # e.g. the stored study holds another task
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"study {summary.name!r}: {summary.added} trials added ({summary.failed} failed, "
          f"{summary.retried} retried after a worker died), {summary.completed} completed in "
          f"{summary.storage}, {summary.seconds:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
