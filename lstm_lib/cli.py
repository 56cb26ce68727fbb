"""The command line: ``python -m lstm_lib train ...`` and ``python -m lstm_lib info``.

Examples::

    python -m lstm_lib train --task adding --cell lstm --seq-len 100 --steps 2000
    python -m lstm_lib train --task copy --cell gru --seq-len 20 --save runs/copy.pt
    python -m lstm_lib train --task temporal-order --cell torch-lstm --device cuda
    python -m lstm_lib info

``train`` draws fresh synthetic batches every step from :mod:`lstm_lib.data`, evaluates on a fixed
validation set, and ends by printing the final validation loss next to the task's *memoryless
baseline*: the best prediction that ignores the input (the mean target for regression, the class
frequencies -- per time step for per-step targets -- for classification). A model that does not
beat it has learned nothing about the sequence.

Every argument is checked before any work starts, and a bad one is a usage error (exit status
2, as argparse's own): numbers and their ranges (``--seed`` in [0, 2**32 - 1]), the task's
limits (one example is drawn to ask the task whether it accepts ``--seq-len``), data sets and
models too large for memory (:data:`MAX_DATA_BYTES`, :data:`MAX_PARAMETERS`), the device, and
``--save`` (a file name whose nearest existing directory is writable), so a bad path never
costs a trained model.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "TASKS", "memoryless_baseline"]


@dataclass(frozen=True)
class _Task:
    function: str  # name in lstm_lib.data, called as f(n, length, seed=seed)
    length_name: str  # what --seq-len means for this task
    description: str
    baseline_loss: str | None = None  # lstm_lib.data function: the memoryless loss, f(length)
    baseline_accuracy: str | None = None  # ... and accuracy, f()


TASKS = {
    "adding": _Task("adding_problem", "seq_len",
                    "sum of the two marked numbers in a sequence of T (Hochreiter & Schmidhuber "
                    "1997); MSE", baseline_loss="adding_baseline_mse"),
    "copy": _Task("copy_memory", "delay",
                  "reproduce 10 symbols after a delay of --seq-len steps (Arjovsky et al. "
                  "2016); per-step cross-entropy", baseline_loss="copy_memory_baseline_ce"),
    "temporal-order": _Task("temporal_order", "seq_len",
                            "classify the order of two marked symbols in a sequence of T "
                            "(Hochreiter & Schmidhuber 1997); cross-entropy",
                            baseline_loss="temporal_order_baseline_ce",
                            baseline_accuracy="temporal_order_baseline_accuracy"),
}


def _kinds() -> tuple[str, ...]:
    from lstm_lib.models import KINDS

    return KINDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lstm_lib",
        description="Train the book's recurrent models on synthetic long-memory tasks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,study,info}")

    t = sub.add_parser("train", help="train a recurrent model on a synthetic task",
                       description="Train a recurrent model on a synthetic task and compare the "
                                   "result with the task's memoryless baseline.")
    t.add_argument("--task", choices=sorted(TASKS), default="adding",
                   help="; ".join(f"{k}: {v.description}" for k, v in TASKS.items())
                   + " (default: %(default)s)")
    t.add_argument("--cell", choices=_kinds(), default="lstm",
                   help="recurrent layer kind; torch-* are torch.nn's (default: %(default)s)")
    t.add_argument("--seq-len", type=_positive_int, default=50,
                   help="sequence length T; the delay for --task copy (default: %(default)s)")
    t.add_argument("--steps", type=_positive_int, default=2000,
                   help="optimizer steps (default: %(default)s)")
    t.add_argument("--batch-size", type=_positive_int, default=64,
                   help="default: %(default)s")
    t.add_argument("--hidden-size", type=_positive_int, default=64,
                   help="H (default: %(default)s)")
    t.add_argument("--num-layers", type=_positive_int, default=1,
                   help="stacked recurrent layers (default: %(default)s)")
    t.add_argument("--lr", type=_positive_float, default=1e-3,
                   help="learning rate (default: %(default)s)")
    t.add_argument("--optimizer", choices=("adam", "adamw", "sgd", "rmsprop"), default="adam",
                   help="default: %(default)s")
    t.add_argument("--clip-norm", type=_nonnegative_float, default=None,
                   help="clip the global gradient norm; 0 disables (default: 1.0, or 0 with "
                        "--clip-value)")
    t.add_argument("--clip-value", type=_nonnegative_float, default=0.0,
                   help="clamp each gradient entry to [-v, v]; 0 disables; excludes --clip-norm "
                        "(default: %(default)s)")
    t.add_argument("--eval-every", type=_positive_int, default=None,
                   help="steps between validation runs (default: steps // 10)")
    t.add_argument("--val-size", type=_positive_int, default=1000,
                   help="validation examples (default: %(default)s)")
    t.add_argument("--seed", type=_seed, default=0,
                   help=f"0 .. {MAX_SEED} (default: %(default)s)")
    t.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:1, mps (default: lstm_lib.default_device(), which the "
                        "environment variable LSTM_LIB_DEVICE overrides)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--save", metavar="PATH", default=None,
                   help="save a checkpoint (weights, optimizer, history, config, model "
                        "arguments) to PATH")
    t.set_defaults(handler=_train, usage_parser=t)

    # listed for --help only: main() hands "study ..." to lstm_lib.study_cli before parsing
    sub.add_parser("study", add_help=False,
                   help="the variant study on Optuna and Dask: study run | study report "
                        "(python -m lstm_lib study --help)")
    i = sub.add_parser("info", help="print versions and the default device")
    i.set_defaults(handler=_info)
    return parser


#: --seed must fit numpy's legacy global seed (seed_everything seeds it): [0, 2**32).
MAX_SEED = 2**32 - 1
#: The fixed validation and baseline sets, and one batch, must each fit in this many bytes.
MAX_DATA_BYTES = 2**31
#: A model with more parameters than this (4 bytes each: 4 GiB) is refused before building.
MAX_PARAMETERS = 2**30


def _int(s: str, what: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {s!r}") from None


def _positive_int(s: str) -> int:
    v = _int(s, "a positive integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s}")
    return v


def _nonnegative_int(s: str) -> int:
    v = _int(s, "an integer >= 0")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {s}")
    return v


def _seed(s: str) -> int:
    v = _int(s, f"an integer in [0, {MAX_SEED}]")
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}] (2**32 - 1), "
                                         f"got {s}")
    return v


def _float(s: str, what: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {s!r}") from None


def _positive_float(s: str) -> float:
    v = _float(s, "a positive number")
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {s}")
    return v


def _nonnegative_float(s: str) -> float:
    v = _float(s, "a number >= 0")
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {s}")
    return v



# ----------------------------------------------------------------------------- tasks

def _data_module():
    """``lstm_lib.data`` (or, before it re-exports its tasks, ``lstm_lib.data.tasks``)."""
    data = importlib.import_module("lstm_lib.data")
    if not hasattr(data, "adding_problem"):
        data = importlib.import_module("lstm_lib.data.tasks")
    return data


def _task_function(name: str):
    task = TASKS[name]
    try:
        return getattr(_data_module(), task.function)
    except (ImportError, AttributeError) as err:
        raise SystemExit(f"error: --task {name} needs lstm_lib.data.{task.function}, which is "
                         f"not available: {err}") from None


def _published_baseline(name: str, length: int, empirical: dict[str, float]) -> dict[str, float]:
    """The data module's exact memoryless baseline where it has one, else ``empirical``."""
    task = TASKS[name]
    out = dict(empirical)
    try:
        data = _data_module()
        if task.baseline_loss and name == "temporal-order":
            out["loss"] = float(getattr(data, task.baseline_loss)())
        elif task.baseline_loss:
            out["loss"] = float(getattr(data, task.baseline_loss)(**(
                {"delay": length} if name == "copy" else {})))
        if task.baseline_accuracy:
            out["accuracy"] = float(getattr(data, task.baseline_accuracy)())
    except (ImportError, AttributeError, TypeError, ValueError):
        return dict(empirical)
    return out


def _make(fn, n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    out = fn(n, length, seed=seed)
    x, y = out[0], out[1]
    return _as_numpy(x), _as_numpy(y)


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _is_int(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_


def memoryless_baseline(y_fit: np.ndarray, y_val: np.ndarray, loss: str) -> dict[str, float]:
    """The best input-ignoring prediction, fitted on ``y_fit`` and scored on ``y_val``.

    ``loss="mse"``: predict the mean of ``y_fit``; returns ``{"loss": MSE}``. ``loss="ce"``:
    predict the class frequencies of ``y_fit`` (separately for every time step when the targets
    are (N, T)); returns ``{"loss": cross-entropy, "accuracy": accuracy of the most frequent
    class}``.
    """
    if loss == "mse":
        mean = y_fit.mean(axis=0)
        return {"loss": float(np.mean((y_val - mean) ** 2))}
    y_fit = y_fit.reshape(len(y_fit), -1) if y_fit.ndim > 1 else y_fit[:, None]  # (N, T')
    y_val = y_val.reshape(len(y_val), -1) if y_val.ndim > 1 else y_val[:, None]
    C = int(max(y_fit.max(), y_val.max())) + 1
    ce, correct = 0.0, 0.0
    for t in range(y_fit.shape[1]):
        counts = np.bincount(y_fit[:, t], minlength=C) + 0.5  # add-1/2 smoothing: no log(0)
        p = counts / counts.sum()
        ce += float(-np.log(p[y_val[:, t]]).mean())
        correct += float((y_val[:, t] == p.argmax()).mean())
    T = y_fit.shape[1]
    return {"loss": ce / T, "accuracy": correct / T}


def _spec(x: np.ndarray, y: np.ndarray, x_more: np.ndarray, y_more: np.ndarray) -> dict:
    """Model and loss settings read off the data: token inputs, per-step or final targets."""
    spec: dict = {}
    if _is_int(x):
        if x.ndim != 2:
            raise SystemExit(f"error: integer inputs must be token ids (N, T), got {x.shape}")
        vocab = int(max(x.max(), x_more.max())) + 1
        spec.update(embedding=vocab, input_size=min(32, max(4, vocab)))
    else:
        if x.ndim != 3:
            raise SystemExit(f"error: float inputs must be (N, T, D), got {x.shape}")
        spec.update(embedding=None, input_size=int(x.shape[-1]))
    if _is_int(y):
        spec["loss"] = "ce"
        spec["output_size"] = int(max(y.max(), y_more.max())) + 1
        per_step = y.ndim == 2 and y.shape[1] == x.shape[1] and y.shape[1] > 1
        spec["readout"] = "all" if per_step else "last"
        spec["squeeze_y"] = y.ndim == 2 and y.shape[1] == 1
    else:
        spec["loss"] = "mse"
        if y.ndim == 3:
            spec["readout"], spec["output_size"] = "all", int(y.shape[-1])
        else:
            spec["readout"] = "last"
            spec["output_size"] = int(y.shape[-1]) if y.ndim == 2 else 1
        spec["squeeze_y"] = False
    return spec


def _check_save_path(value: str, parser: argparse.ArgumentParser) -> None:
    """--save must name a file whose directory exists (or can be made) and is writable."""
    path = Path(value).expanduser()
    if value.endswith(("/", os.sep)) or path.is_dir():
        parser.error(f"--save {value}: is a directory; give a file name, e.g. "
                     f"{path / 'run.pt'}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent          # save_checkpoint creates the missing directories
    if not ancestor.is_dir():
        parser.error(f"--save {value}: {ancestor} is not a directory")
    try:                                     # os.access says yes to root on a read-only disk
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as err:
        parser.error(f"--save {value}: cannot write in {ancestor} ({err.strerror or err})")


def _check_device(value: str | None, parser: argparse.ArgumentParser):
    import torch

    from lstm_lib._device import default_device

    if value is None:
        try:
            return default_device()
        except (RuntimeError, ValueError) as err:  # e.g. LSTM_LIB_DEVICE=cuda without a GPU
            parser.error(str(err))
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as err:
        parser.error(f"--device {value!r}: {err}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error(f"--device {value}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            parser.error(f"--device {value}: this machine has {torch.cuda.device_count()} "
                         f"CUDA device(s), numbered from 0")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        parser.error(f"--device {value}: MPS is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        parser.error(f"--device {value}: expected cpu, cuda, cuda:N or mps")
    return device


def _check_task_size(args: argparse.Namespace, fn, parser: argparse.ArgumentParser) -> None:
    """The task accepts --seq-len (e.g. temporal-order needs 20 or more: one example is
    drawn to find out), and its data and the model fit in memory."""
    L = args.seq_len
    n_fixed = args.val_size + max(args.val_size, 1000)    # validation + baseline sets
    if 4 * L * max(n_fixed, args.batch_size) > MAX_DATA_BYTES:  # >= 4 bytes per step
        parser.error(f"--seq-len {L} with --val-size {args.val_size} and --batch-size "
                     f"{args.batch_size}: the data would need more than "
                     f"{MAX_DATA_BYTES / 2**30:.0f} GiB; use smaller values")
    try:
        x, y = _make(fn, 1, L, seed=0)
    except (TypeError, ValueError) as err:
        parser.error(f"--task {args.task} --seq-len {L}: {err}")
    per_example = x.nbytes + y.nbytes
    if per_example * max(n_fixed, args.batch_size) > MAX_DATA_BYTES:
        parser.error(f"--task {args.task} --seq-len {L}: {max(n_fixed, args.batch_size)} "
                     f"examples of {per_example} bytes exceed {MAX_DATA_BYTES / 2**30:.0f} "
                     f"GiB; use smaller --seq-len, --val-size or --batch-size")
    D = int(x.shape[-1]) if x.ndim == 3 else 32
    H, layers = args.hidden_size, args.num_layers
    n_params = layers * 4 * H * (max(D, H) + H + 2)        # 4 gate blocks per layer at most
    if n_params > MAX_PARAMETERS:
        parser.error(f"--hidden-size {H} --num-layers {layers}: about {n_params:.3g} "
                     f"parameters, more than {MAX_PARAMETERS:.3g}; use a smaller model")


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch

    from lstm_lib.models import SequenceModel, count_parameters
    from lstm_lib.train import TrainConfig, fit, make_optimizer, save_checkpoint

    # Every argument is checked before any work starts: a usage error (exit 2), not a
    # traceback, and never after training (which would lose the trained model).
    parser = getattr(args, "usage_parser", parser)   # errors show the usage of `train`
    if args.clip_value > 0 and args.clip_norm:
        parser.error("--clip-norm and --clip-value exclude each other")
    if args.clip_value > 0:
        clip_norm = 0.0
    else:
        clip_norm = 1.0 if args.clip_norm is None else args.clip_norm
    if args.save:
        _check_save_path(args.save, parser)
        save_to = Path(args.save).expanduser()   # "--save=~/run.pt" is not expanded by a shell
    device = _check_device(args.device, parser)
    fn = _task_function(args.task)
    _check_task_size(args, fn, parser)

    L = args.seq_len
    x_val, y_val = _make(fn, args.val_size, L, seed=args.seed + 1_000_003)
    x_fit, y_fit = _make(fn, max(args.val_size, 1000), L, seed=args.seed + 2_000_003)
    spec = _spec(x_val, y_val, x_fit, y_fit)
    if spec["squeeze_y"]:
        y_val, y_fit = y_val[:, 0], y_fit[:, 0]
    baseline = _published_baseline(args.task, L,
                                   memoryless_baseline(y_fit, y_val, spec["loss"]))

    def batch_fn(step, rng):
        x, y = _make(fn, args.batch_size, L, seed=int(rng.integers(2**31 - 1)))
        return x, (y[:, 0] if spec["squeeze_y"] else y)

    torch.manual_seed(args.seed)  # the model's initial weights
    model_kwargs = dict(kind=args.cell, input_size=spec["input_size"],
                        hidden_size=args.hidden_size, output_size=spec["output_size"],
                        num_layers=args.num_layers, readout=spec["readout"],
                        embedding=spec["embedding"])
    model = SequenceModel(**model_kwargs).to(device)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         optimizer=args.optimizer, clip_norm=clip_norm,
                         clip_value=args.clip_value,
                         eval_every=args.eval_every or max(1, args.steps // 10),
                         seed=args.seed, progress=not args.no_progress, device=str(device))
    optimizer = make_optimizer(model.parameters(), config)
    length = TASKS[args.task].length_name
    print(f"task {args.task} ({length}={L}, x {tuple(x_val.shape[1:])}, loss {spec['loss']}) | "
          f"cell {args.cell}, H={args.hidden_size}, {count_parameters(model)} parameters | "
          f"device {device} | {args.steps} steps of {args.batch_size}", flush=True)
    metrics = ["accuracy"] if spec["loss"] == "ce" else None
    history = fit(model, batch_fn, (x_val, y_val), config=config, loss=spec["loss"],
                  metrics=metrics, optimizer=optimizer)

    final = history.val_loss[-1]
    line = (f"final validation {spec['loss']} {final:.4g} (best {history.best_val:.4g} at step "
            f"{history.best_step}) | memoryless baseline {baseline['loss']:.4g} | ratio "
            f"{final / baseline['loss']:.3g}")
    if "accuracy" in history.val_metrics:
        line += (f"\nfinal validation accuracy {history.val_metrics['accuracy'][-1]:.3f} | "
                 f"memoryless baseline {baseline['accuracy']:.3f}")
    print(line + f"\ntrained in {history.wall_time:.1f} s")
    if args.save:
        extra = {"model": model_kwargs, "task": args.task, "seq_len": L, "baseline": baseline}
        try:
            path = save_checkpoint(save_to, model, optimizer, history, config, extra=extra)
        except OSError as err:  # checked before training, yet the disk may fill up meanwhile
            fallback = Path(tempfile.gettempdir()) / f"lstm_lib-{os.getpid()}-{save_to.name}"
            path = save_checkpoint(fallback, model, optimizer, history, config, extra=extra)
            print(f"error: could not save to {save_to} ({err}); saved the trained model to "
                  f"{path} instead", file=sys.stderr)
            return 1
        print(f"saved {path}")
    return 0


def _info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import lstm_lib

    print(f"lstm_lib {lstm_lib.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for name in ("numpy", "torch", "matplotlib", "tqdm"):
        try:
            print(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            print(f"{name} not installed")
    import torch

    print(f"cuda available: {torch.cuda.is_available()}"
          + (f" ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
             if torch.cuda.is_available() else ""))
    env = os.environ.get("LSTM_LIB_DEVICE")
    print(f"LSTM_LIB_DEVICE: {env!r}" if env else "LSTM_LIB_DEVICE: not set")
    try:
        print(f"default device: {lstm_lib.default_device()}")
    except (RuntimeError, ValueError) as err:
        print(f"default device: error: {err}")
        return 1
    print(f"torch threads: {torch.get_num_threads()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lstm_lib`` and the ``lstm-lib`` script; returns the exit code."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["study"]:  # the variant study has its own parser: lstm_lib.study_cli
        from lstm_lib import study_cli

        return study_cli.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.handler(args, parser)
