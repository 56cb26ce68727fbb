"""The study's driver: it asks Optuna for trials, has them trained, and tells Optuna the results.

Only the driver talks to the storage. Trials are created with Optuna's ask-and-tell interface,
their training (:func:`~lstm_lib.study.trial.train_trial`, plain data in and out) runs in this
process (``workers=1``), on a Dask ``LocalCluster`` of ``workers`` processes,
or on an existing Dask cluster (``scheduler="tcp://host:8786"``), and every result is told as
soon as it arrives. So a SQLite file is a safe storage for local runs: one process writes it.

Guarantees:

* **Resume.** The study is loaded if it exists (``load_if_exists``); ``trials=N`` adds N
  finished trials to those already stored. A told trial is in the storage for good; nothing is
  retrained, and an interruption loses at most the trials still in flight (marked failed,
  user attribute ``interrupted``).
* **Reproducible.** Trial k of study ``name`` samples its hyperparameters with a
  ``RandomSampler`` seeded by :func:`~lstm_lib.study.trial.trial_seed` (name, k) and trains with
  that seed: the same name gives the same trials in any storage, with any number of workers.
* **Worker deaths.** A trial whose worker process dies (Dask's ``KilledWorker``; the local
  cluster gives up on a task at its first death, ``allowed-failures = 0``) is marked failed and
  retried once, with the same hyperparameters and seed (user attribute ``retry_of``).
  A trial that raises (e.g. a diverged run) is marked failed and not retried.
* **Ctrl-C** stops submitting, cancels what is pending, marks it failed, keeps everything told,
  and re-raises ``KeyboardInterrupt``.

On a cluster the storage must be a database server, e.g.
``postgresql://user:password@host/db`` (install ``psycopg2``): SQLite is a file with file
locks, which network file systems do not honour, and a cluster's study is usually read,
analysed or extended from more than one machine. The driver refuses a ``sqlite://`` URL with a
scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lstm_lib.study.trial import (
    SIZES,
    TASKS,
    distributions,
    normalize_variants,
    train_trial,
    trial_seed,
)

__all__ = ["RunSummary", "create_or_load", "default_storage", "run_study"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class RunSummary:
    """What one :func:`run_study` call did.

    Attributes:
        name: the study's name.
        storage: the study's storage.
        added: trials completed by this call.
        failed: trials that ended failed in this call: a diverged run, or a worker that died
            on the trial's retry too (a first death counts in ``retried``).
        retried: trials retried because their worker died.
        completed: completed trials in the study after the call.
        seconds: wall time of the call.
    """

    name: str
    storage: Any
    added: int
    failed: int
    retried: int
    completed: int
    seconds: float


def default_storage(name: str) -> str:
    """``sqlite:///<name>.db``: a SQLite file in the working directory, nothing to start."""
    _check_name(name)
    return f"sqlite:///{name}.db"


def _check_name(name) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("name must be letters, digits, '.', '_' or '-' (starting with a letter "
                         f"or digit), got {name!r}")


def check_storage(storage, scheduler: str | None) -> None:
    """Refuse what cannot work: a storage that is no RDB URL (nor an Optuna storage object), or
    SQLite (or memory) with a scheduler."""
    import optuna

    if isinstance(storage, optuna.storages.BaseStorage):
        if scheduler is not None:
            raise ValueError(f"storage must be a database server URL with scheduler="
                             f"{scheduler!r}, e.g. postgresql://user:password@host/db; got "
                             f"a {type(storage).__name__} object")
        return
    if not isinstance(storage, str) or "://" not in storage:
        raise ValueError("storage must be an Optuna RDB URL such as sqlite:///study.db or "
                         f"postgresql://user:password@host/db, got {storage!r}")
    if scheduler is not None and storage.startswith("sqlite"):
        raise ValueError(
            f"storage {storage!r} is a SQLite file, which cannot serve a study on a cluster "
            f"(scheduler={scheduler!r}): use a database server, e.g. "
            "postgresql://user:password@host/db (and pip install psycopg2-binary)")


def open_storage(storage):
    """The Optuna storage for ``storage``; a SQLite URL gets write-ahead logging.

    In WAL mode with ``synchronous=NORMAL`` a commit does not wait for the disk (the driver
    commits a dozen times per trial): a crash of the program loses nothing committed; a power
    cut may lose the last commits. Other URLs and storage objects are passed on as they are.
    """
    if not (isinstance(storage, str) and storage.startswith("sqlite")):
        return storage
    import optuna
    import sqlalchemy

    rdb = optuna.storages.RDBStorage(storage)

    def wal(connection, record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(rdb.engine, "connect", wal)
    rdb.engine.dispose()   # connections opened before the listener are closed
    return rdb


def create_or_load(name: str, storage, task: str, size: str):
    """The Optuna study ``name`` in ``storage``: created, or loaded if it exists.

    The study records its task and size (user attributes); loading it for another task or
    size is a ``ValueError``, since its trials would not be comparable.
    """
    import optuna

    _check_name(name)
    study = optuna.create_study(study_name=name, storage=open_storage(storage), load_if_exists=True,
                                direction=TASKS[task].direction)
    attrs = study.user_attrs
    if not attrs:
        study.set_user_attr("task", task)
        study.set_user_attr("size", size)
    elif (attrs.get("task"), attrs.get("size")) != (task, size):
        raise ValueError(f"study {name!r} in {storage} holds task {attrs.get('task')!r} at size "
                         f"{attrs.get('size')!r}; got task {task!r}, size {size!r} (use another "
                         "name for another task or size)")
    return study


def _check_args(task, size, trials, workers, scheduler) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    for arg, value in (("trials", trials), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    if scheduler is not None and not (isinstance(scheduler, str) and "://" in scheduler):
        raise ValueError(f"scheduler must be an address such as tcp://host:8786, "
                         f"got {scheduler!r}")


def run_study(name: str, *, task: str = "temporal-order", variants: Sequence[str] | str = (
              "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR", "GRU"),
              trials: int = 10, storage: Any = None, workers: int = 1,
              scheduler: str | None = None, size: str = "small", progress: bool = True,
              train_fn: Callable[..., dict] = train_trial) -> RunSummary:
    """Add ``trials`` finished trials to the study ``name``, training them in parallel.

    Args:
        name: the study's name (letters, digits, ``._-``); it also seeds every trial.
        task: a key of :data:`~lstm_lib.study.trial.TASKS`.
        variants: the variants to train, a sequence or a comma-separated string; each new
            trial goes to the variant with the fewest trials so far (ties: in this order).
        trials: how many trials to add (completed, or failed for good).
        storage: an Optuna RDB URL (default :func:`default_storage`: ``sqlite:///<name>.db``),
            or an Optuna storage object (e.g. ``optuna.storages.InMemoryStorage()``).
        workers: 1 trains in this process; k > 1 starts a local Dask cluster of k processes
            of one thread each.
        scheduler: the address of an existing Dask scheduler; ``storage`` must then be a
            database server, not SQLite.
        size: ``"tiny"``, ``"small"`` or ``"full"`` (:func:`~lstm_lib.study.trial.task_setting`).
        progress: a tqdm bar of finished trials (``LSTM_LIB_PROGRESS=0`` turns it off).
        train_fn: the job of one trial, ``train_fn(task, size, params, seed) -> dict`` with a
            ``"score"``; a top-level function (workers import it).

    Returns:
        A :class:`RunSummary` of what the call did.

    Raises:
        ValueError: a bad argument (before anything is created or started).
        KeyboardInterrupt: after a clean stop (see the module docstring).
    """
    import optuna

    _check_args(task, size, trials, workers, scheduler)
    variants = normalize_variants(variants)
    storage = default_storage(name) if storage is None else storage
    check_storage(storage, scheduler)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    try:
        study = create_or_load(name, storage, task, size)
        with _executor(workers, scheduler) as execute:
            counts = _Driver(study, name, task, size, variants, train_fn).run(
                trials, execute, _bar(trials, progress, name))
    finally:
        optuna.logging.set_verbosity(verbosity)
    completed = len(study.get_trials(deepcopy=False,
                                     states=(optuna.trial.TrialState.COMPLETE,)))
    return RunSummary(name, storage, counts["added"], counts["failed"], counts["retried"],
                      completed, time.perf_counter() - start)


class _Driver:
    """Ask, submit, tell: the loop of :func:`run_study` (one instance per call)."""

    def __init__(self, study, name: str, task: str, size: str, variants: list[str],
                 train_fn: Callable) -> None:
        self.study, self.name, self.task, self.size = study, name, task, size
        self.variants, self.train_fn = variants, train_fn
        self.space = distributions()
        # A variant's share: its trials so far, except those interrupted or lost with a worker.
        counted = [t.params.get("variant") for t in study.get_trials(deepcopy=False)
                   if not (t.user_attrs.get("interrupted") or t.user_attrs.get("worker_died"))]
        self.share = {v: counted.count(v) for v in variants}
        self.counts = {"added": 0, "failed": 0, "retried": 0}
        self.open: dict[int, Any] = {}  # asked, not yet told: failed if we are interrupted

    def _ask(self, params: dict | None = None, attrs: dict | None = None):
        """A new trial with ``params`` fixed (default: the least-used variant); the rest sampled."""
        import optuna

        if params is None:
            variant = min(self.variants, key=lambda v: self.share[v])  # first of the least used
            params = {"variant": variant}
        self.study.enqueue_trial(params, user_attrs=attrs)
        trial = self.study.ask()
        self.open[trial.number] = trial
        seed = int(trial.user_attrs.get("seed", trial_seed(self.name, trial.number)))
        self.study.sampler = optuna.samplers.RandomSampler(seed=seed)  # trial k's own sample
        values = {k: _suggest(trial, k, dist) for k, dist in self.space.items()}
        trial.set_user_attr("seed", seed)
        self.share[values["variant"]] = self.share.get(values["variant"], 0) + 1
        return trial, values, seed

    def run(self, n: int, execute, bar) -> dict[str, int]:
        done = 0
        in_flight: dict[Any, tuple] = {}
        try:
            while done < n:
                while len(in_flight) < execute.slots and done + len(in_flight) < n:
                    trial, params, seed = self._ask()
                    in_flight[execute.submit(self.train_fn, self.task, self.size, params,
                                             seed)] = (trial, params, seed)
                job, result, error, died = execute.next_done(in_flight)
                trial, params, seed = in_flight.pop(job)
                done += self._tell(trial, params, seed, result, error, died, execute,
                                   in_flight)
                if bar is not None:
                    bar.n = done
                    bar.refresh()
        except KeyboardInterrupt:
            execute.cancel(list(in_flight))
            for trial in self.open.values():
                trial.set_user_attr("interrupted", True)
                self.study.tell(trial, state=_state("FAIL"))
            raise
        finally:
            if bar is not None:
                bar.close()
        return self.counts

    def _tell(self, trial, params, seed, result, error, died, execute, in_flight) -> int:
        """Record one finished job; return 1 if the trial is final, 0 if it was resubmitted."""
        del self.open[trial.number]
        if error is None:
            for key, value in result.items():
                if key != "score":
                    trial.set_user_attr(key, value)
            self.study.tell(trial, result["score"])
            self.counts["added"] += 1
            return 1
        trial.set_user_attr("error", f"{type(error).__name__}: {error}"[:500])
        trial.set_user_attr("worker_died", bool(died))
        self.study.tell(trial, state=_state("FAIL"))
        if died and "retry_of" not in trial.user_attrs:
            self.counts["retried"] += 1
            self.share[params["variant"]] -= 1   # the retry takes its place
            retry, params, seed = self._ask(dict(params), {"retry_of": trial.number,
                                                           "seed": seed})
            in_flight[execute.submit(self.train_fn, self.task, self.size, params, seed)] = (
                retry, params, seed)
            return 0
        self.counts["failed"] += 1
        return 1


def _suggest(trial, name: str, dist):
    """``trial.suggest_*`` for one Optuna distribution (enqueued values are taken as given)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)


def _state(name: str):
    import optuna

    return optuna.trial.TrialState[name]


def _bar(total: int, enabled: bool, name: str):
    if not enabled or os.environ.get("LSTM_LIB_PROGRESS", "").strip() == "0":
        return None
    from tqdm.std import tqdm

    return tqdm(total=total, desc=f"study {name}", unit="trial", dynamic_ncols=True)


# ----------------------------------------------------------------------------- executors

class _InProcess:
    """workers=1: each job runs when it is submitted; its outcome waits in a finished future."""

    slots = 1

    def submit(self, fn, *args):
        from concurrent.futures import Future

        job = Future()
        try:
            job.set_result(fn(*args))
        except Exception as err:  # noqa: BLE001 -- a failed trial is recorded, not fatal
            job.set_exception(err)
        return job

    def next_done(self, in_flight):
        job = next(iter(in_flight))
        error = job.exception()
        return job, None if error else job.result(), error, False

    def cancel(self, jobs) -> None:
        pass


class _Dask:
    """A Dask client; at most two jobs per worker in flight, so Ctrl-C cancels little."""

    def __init__(self, client, slots: int) -> None:
        from distributed import as_completed

        self.client, self.slots = client, slots
        self.waiting = as_completed()

    def submit(self, fn, *args):
        job = self.client.submit(fn, *args, pure=False)
        self.waiting.add(job)
        return job

    def next_done(self, in_flight):
        from distributed import KilledWorker

        for job in self.waiting:
            if job in in_flight:
                break
        try:
            return job, job.result(), None, False
        except KilledWorker as err:
            return job, None, err, True
        except Exception as err:  # noqa: BLE001 -- a failed trial is recorded, not fatal
            return job, None, err, False

    def cancel(self, jobs) -> None:
        if jobs:
            self.client.cancel(jobs)


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None):
    if scheduler is None and workers == 1:
        yield _InProcess()
        return
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            yield _Dask(client, 2 * n)
        return
    # allowed-failures = 0: a task whose worker dies fails at once (KilledWorker) and the driver
    # retries it itself, recording the failure, instead of the scheduler retrying it silently.
    # lost-worker-timeout: the nanny restarts a dead worker; on a busy machine that takes more
    # than the default 15 s, after which the cluster would give the worker up for good.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.deploy.lost-worker-timeout": "10 minutes"}):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield _Dask(client, 2 * workers)
