"""lstm_lib.study: one seeded trial, the driver (resume, retries, Ctrl-C, a 2-worker local Dask
cluster into SQLite) and the two analyses (Welch table, fANOVA importances)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("distributed")

from lstm_lib import study as S  # noqa: E402
from lstm_lib.study import trial  # noqa: E402

COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL
PARAMS = {"variant": "vanilla", "lr": 1e-2, "hidden_size": 8, "momentum": 0.9,
          "input_noise": 0.1, "clip_norm": 1.0}


# ------------------------------------------------------------------ stand-ins for train_trial
# Top-level functions, so that Dask workers can import them by name.

def fake_train(task, size, params, seed):
    """A deterministic score from the hyperparameters and the seed, without training."""
    return {"score": -abs(math.log10(params["lr"]) + 2) + 1e-3 * (seed % 7),
            "loss": float(params["hidden_size"]), "seconds": 0.0}


def raise_on_nfg(task, size, params, seed):
    if params["variant"] == "NFG":
        raise FloatingPointError("the training loss is nan")
    return fake_train(task, size, params, seed)


def interrupt_third(task, size, params, seed, *, counter=[0]):  # noqa: B006 -- a call counter
    counter[0] += 1
    if counter[0] == 3:
        raise KeyboardInterrupt
    return fake_train(task, size, params, seed)


def die_once(task, size, params, seed, *, marker):
    """Kill this worker process on the first call anywhere (an exclusive marker file decides),
    then train for real."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return trial.train_trial(task, size, params, seed)
    os._exit(1)


def _trials(storage, name, states=None):
    s = optuna.load_study(study_name=name, storage=storage)
    return s.get_trials(deepcopy=False, states=states)


# ----------------------------------------------------------------------------- one trial

def test_trial_seed_depends_on_the_name_and_the_number():
    seeds = {trial.trial_seed(name, k) for name in ("a", "b") for k in range(50)}
    assert len(seeds) == 100
    assert trial.trial_seed("a", 3) == trial.trial_seed("a", 3)
    assert all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("task", ["temporal-order", "echo", "adding"])
def test_train_trial_repeats_for_a_seed_and_beats_nothing_on_its_task(task, one_thread):
    a = trial.train_trial(task, "tiny", PARAMS, seed=3)
    b = trial.train_trial(task, "tiny", PARAMS, seed=3)
    c = trial.train_trial(task, "tiny", PARAMS, seed=4)
    assert a["score"] == b["score"] and a["loss"] == b["loss"]
    assert a["loss"] != c["loss"]
    spec = trial.TASKS[task]
    assert a["score"] == a[spec.score]
    if spec.score == "accuracy":
        assert 0 <= a["accuracy"] <= 1
    assert a["parameters"] > 0


def test_every_variant_builds_and_trains(one_thread):
    for name in trial.VARIANTS:
        out = trial.train_trial("echo", "tiny", {**PARAMS, "variant": name}, seed=0)
        assert 0 <= out["accuracy"] <= 1, name


def test_task_setting_and_variant_names_are_checked():
    assert trial.task_setting("echo", "small")["seq_len"] == 20
    with pytest.raises(ValueError, match="size must be one of"):
        trial.task_setting("echo", "huge")
    with pytest.raises(ValueError, match="task must be one of"):
        trial.task_setting("copy", "tiny")
    assert trial.normalize_variants("vanilla, gru,np") == ["vanilla", "GRU", "NP"]
    with pytest.raises(ValueError, match="variants must be names from"):
        trial.normalize_variants("vanilla,LSTM2")
    with pytest.raises(ValueError, match="twice"):
        trial.normalize_variants(["NP", "np"])
    with pytest.raises(ValueError, match="missing"):
        trial.train_trial("echo", "tiny", {"variant": "NP"}, seed=0)


# ------------------------------------------------------------------------------ the driver

@pytest.mark.parametrize("kwargs, match", [
    ({"task": "copy"}, "task must be one of"),
    ({"size": "huge"}, "size must be one of"),
    ({"trials": 0}, "trials must be a positive integer"),
    ({"workers": 1.5}, "workers must be a positive integer"),
    ({"variants": "vanilla,XYZ"}, "variants must be names"),
    ({"scheduler": "tcp://127.0.0.1:1"}, "SQLite file.*postgresql"),
    ({"scheduler": "localhost"}, "scheduler must be an address"),
    ({"storage": "study.db"}, "storage must be an Optuna RDB URL"),
    ({"scheduler": "tcp://127.0.0.1:1", "storage": optuna.storages.InMemoryStorage()},
     "database server URL"),
])
def test_bad_arguments_are_refused_before_anything_is_created(tmp_path, monkeypatch, kwargs,
                                                              match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        S.run_study("s", **{"trials": 1, "size": "tiny", "progress": False, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_a_study_interrupted_and_resumed_equals_one_run_in_one_go(tmp_path):
    """Resume adds trials; no trial is lost or repeated; the same name gives the same trials."""
    once, twice = f"sqlite:///{tmp_path}/once.db", f"sqlite:///{tmp_path}/twice.db"
    kw = dict(task="echo", variants="vanilla,NFG,GRU", size="tiny", progress=False,
              train_fn=fake_train)
    S.run_study("s", trials=7, storage=once, **kw)
    first = S.run_study("s", trials=4, storage=twice, **kw)
    second = S.run_study("s", trials=3, storage=twice, **kw)
    assert (first.added, second.added, second.completed) == (4, 3, 7)
    a, b = _trials(once, "s"), _trials(twice, "s")
    assert [t.number for t in b] == list(range(7)) and all(t.state == COMPLETE for t in b)
    assert [(t.params, t.value, t.user_attrs["seed"]) for t in a] == \
        [(t.params, t.value, t.user_attrs["seed"]) for t in b]
    assert [t.user_attrs["seed"] for t in b] == [trial.trial_seed("s", k) for k in range(7)]
    variants = [t.params["variant"] for t in b]
    assert variants == ["vanilla", "NFG", "GRU"] * 2 + ["vanilla"]  # each gets its share
    assert len({t.params["lr"] for t in b}) == 7                     # sampled afresh


def test_sqlite_storage_is_written_ahead_and_memory_storage_works(tmp_path):
    import sqlite3

    S.run_study("w", task="echo", trials=2, storage=f"sqlite:///{tmp_path}/w.db", size="tiny",
                progress=False, train_fn=fake_train)
    with sqlite3.connect(tmp_path / "w.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    memory = optuna.storages.InMemoryStorage()
    out = S.run_study("m", task="echo", trials=3, storage=memory, size="tiny", progress=False,
                      train_fn=fake_train)
    assert out.completed == 3 and len(S.frame(S.load("m", memory))) == 3


def test_a_resumed_study_keeps_its_task(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    S.run_study("s", task="echo", trials=1, storage=storage, size="tiny", progress=False,
                train_fn=fake_train)
    with pytest.raises(ValueError, match="holds task 'echo'"):
        S.run_study("s", task="adding", trials=1, storage=storage, size="tiny",
                    progress=False, train_fn=fake_train)
    assert len(_trials(storage, "s")) == 1


def test_a_trial_that_raises_is_failed_and_not_retried(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    out = S.run_study("s", task="echo", variants="vanilla,NFG", trials=4, storage=storage,
                      size="tiny", progress=False, train_fn=raise_on_nfg)
    assert (out.added, out.failed, out.retried) == (2, 2, 0)
    failed = _trials(storage, "s", (FAIL,))
    assert len(failed) == 2 and all(t.params["variant"] == "NFG" for t in failed)
    assert all("nan" in t.user_attrs["error"] and not t.user_attrs["worker_died"]
               for t in failed)


def test_ctrl_c_keeps_every_finished_trial_and_the_study_resumes(tmp_path):
    storage = f"sqlite:///{tmp_path}/s.db"
    kw = dict(task="echo", storage=storage, size="tiny", progress=False)
    with pytest.raises(KeyboardInterrupt):
        S.run_study("s", trials=5, train_fn=interrupt_third, **kw)
    trials = _trials(storage, "s")
    assert [t.state for t in trials] == [COMPLETE, COMPLETE, FAIL]
    assert trials[2].user_attrs["interrupted"] is True
    out = S.run_study("s", trials=3, train_fn=fake_train, **kw)
    assert (out.added, out.completed) == (3, 5)
    assert [t.number for t in _trials(storage, "s", (COMPLETE,))] == [0, 1, 3, 4, 5]


@pytest.fixture(scope="module")
def cluster_study(tmp_path_factory):
    """A tiny study on a 2-worker LocalCluster into SQLite; the first trial kills its worker."""
    import functools

    path = tmp_path_factory.mktemp("cluster")
    storage = f"sqlite:///{path}/c.db"
    out = S.run_study("c", task="echo", variants="vanilla,NP,GRU", trials=4, storage=storage,
                      workers=2, size="tiny", progress=False,
                      train_fn=functools.partial(die_once, marker=str(path / "died")))
    return out, _trials(storage, "c")


@pytest.mark.slow
def test_local_cluster_study_completes_despite_a_dead_worker(cluster_study):
    out, trials = cluster_study
    # the dead worker may have held a second, queued trial: each is retried once
    assert (out.added, out.completed, out.failed) == (4, 4, 0) and out.retried >= 1
    assert [t.number for t in trials] == list(range(4 + out.retried))
    dead = [t for t in trials if t.state == FAIL]
    assert len(dead) == out.retried and all(t.user_attrs["worker_died"] for t in dead)
    for t in dead:
        (retry,) = [r for r in trials if r.user_attrs.get("retry_of") == t.number]
        assert retry.state == COMPLETE
        assert retry.params == t.params and retry.user_attrs["seed"] == t.user_attrs["seed"]
    assert sum(t.state == COMPLETE for t in trials) == 4


@pytest.mark.slow
def test_local_cluster_trials_equal_the_same_trial_in_process(cluster_study, one_thread):
    _, trials = cluster_study
    done = [t for t in trials if t.state == COMPLETE]
    for t in done[:2]:
        again = trial.train_trial("echo", "tiny", t.params, t.user_attrs["seed"])
        assert again["score"] == t.value and again["loss"] == t.user_attrs["loss"]


# ------------------------------------------------------------------------------ analyses

def _known_study(values: dict[str, list[float]], direction="maximize", seed=0):
    """An in-memory study with the given scores per variant; other parameters random."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction=direction)
    study.set_user_attr("task", "echo")
    space = trial.distributions()
    for variant, scores in values.items():
        for v in scores:
            params = {name: (variant if name == "variant" else
                             d.low + (d.high - d.low) * rng.random())
                      for name, d in space.items()}
            params["hidden_size"] = int(params["hidden_size"])
            study.add_trial(optuna.trial.create_trial(params=params, distributions=space,
                                                      value=v))
    return study


def test_variant_table_matches_numpy_and_scipy_welch():
    from scipy import stats

    values = {"vanilla": [0.5, 0.6, 0.7], "NFG": [0.2, 0.25, 0.3], "GRU": [0.55, 0.65, 0.6],
              "NP": [0.4]}
    table = S.variant_table(_known_study(values))
    assert list(table.index) == ["vanilla", "NFG", "NP", "GRU"]       # VARIANTS order
    for name, v in values.items():
        row = table.loc[name]
        assert row["n"] == len(v) and row["mean"] == pytest.approx(np.mean(v))
        assert row["best"] == max(v)
        assert row["gap"] == pytest.approx(np.mean(v) - np.mean(values["vanilla"]))
    assert table.loc["NFG", "std"] == pytest.approx(np.std(values["NFG"], ddof=1))
    p = stats.ttest_ind(values["NFG"], values["vanilla"], equal_var=False).pvalue
    assert table.loc["NFG", "p"] == pytest.approx(p) and p < 0.05
    assert list(table.verdict) == ["reference", "worse", "within noise", "within noise"]
    assert math.isnan(table.loc["NP", "p"]) and math.isnan(table.loc["vanilla", "p"])


def test_variant_table_of_a_score_to_minimise():
    table = S.variant_table(_known_study({"vanilla": [0.5, 0.6, 0.7], "NFG": [0.2, 0.25, 0.3]},
                                         direction="minimize"))
    assert table.loc["NFG", "verdict"] == "better" and table.loc["NFG", "best"] == 0.2
    with pytest.raises(ValueError, match="reference must be a variant"):
        S.variant_table(_known_study({"NFG": [0.2, 0.3]}))


def test_fanova_finds_the_one_parameter_that_matters():
    rng = np.random.default_rng(1)
    study = optuna.create_study()
    space = trial.distributions()
    for _ in range(40):
        lr = float(10 ** rng.uniform(-3, -1))
        params = {"variant": str(rng.choice(["vanilla", "GRU"])), "lr": lr,
                  "hidden_size": int(rng.integers(8, 33)), "momentum": rng.uniform(0, 0.99),
                  "input_noise": rng.uniform(0, 0.5), "clip_norm": float(10 ** rng.uniform(-1, 1))}
        study.add_trial(optuna.trial.create_trial(
            params=params, distributions=space, value=(math.log10(lr) + 2) ** 2))
    values = S.importances(study, seed=0)
    assert values.index[0] == "lr" and values["lr"] > 0.8
    assert values.sum() == pytest.approx(1.0)
    assert set(values.index) == set(space)


def test_report_of_a_study_without_vanilla_tests_against_its_first_variant(tmp_path):
    storage = f"sqlite:///{tmp_path}/n.db"
    S.run_study("n", task="echo", variants="GRU,NP", trials=4, storage=storage, size="tiny",
                progress=False, train_fn=fake_train)
    text = S.report("n", storage)
    assert "Welch's t-test against NP" in text and "importance" in text


def test_report_and_plots_of_a_stored_study(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    storage = f"sqlite:///{tmp_path}/r.db"
    S.run_study("r", task="echo", variants="vanilla,NIG,GRU", trials=9, storage=storage,
                size="tiny", progress=False, train_fn=fake_train)
    text = S.report("r", storage)
    study = S.load("r", storage)
    table = S.variant_table(study)
    assert "9 completed" in text and "importance" in text
    for name in ("vanilla", "NIG", "GRU", "lr", "clip_norm"):
        assert name in text
    assert f"{table.loc['GRU', 'mean']:.4f}" in text
    with pytest.raises(KeyError, match="no study 'other'"):
        S.load("other", storage)
    fig, (a, b) = plt.subplots(1, 2)
    S.plot_variants(study, ax=a)
    S.plot_importances(S.importances(study), ax=b)
    assert len(a.patches) == 3 and len(b.patches) == len(trial.distributions())
    plt.close(fig)
