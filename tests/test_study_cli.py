"""``python -m lstm_lib study run|report``: usage errors before any work, a run, a report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("optuna")

from lstm_lib import cli, study_cli  # noqa: E402


@pytest.mark.parametrize("argv, message", [
    (["run", "--trials", "2"], "--name"),
    (["run", "--name", "s"], "--trials"),
    (["run", "--name", "s", "--trials", "0"], "positive integer"),
    (["run", "--name", "s", "--trials", "two"], "positive integer"),
    (["run", "--name", "s", "--trials", "2", "--workers", "0"], "positive integer"),
    (["run", "--name", "s", "--trials", "2", "--task", "copy"], "invalid choice"),
    (["run", "--name", "s", "--trials", "2", "--size", "huge"], "invalid choice"),
    (["run", "--name", "s", "--trials", "2", "--variants", "vanilla,LSTM2"],
     "--variants must be names"),
    (["run", "--name", "s", "--trials", "2", "--scheduler", "tcp://127.0.0.1:1"],
     "SQLite file.*postgresql"),
    (["run", "--name", "s", "--trials", "2", "--scheduler", "localhost"],
     "--scheduler must be an address"),
    (["run", "--name", "s t", "--trials", "2"], "--name must be letters"),
    (["run", "--name", "s", "--trials", "2", "--storage", "s.db"], "--storage must be"),
    (["report", "--name", "s"], "no such SQLite file"),
    (["report", "--name", "s", "--reference", "LSTM2"], "must be names"),
    (["fit"], "invalid choice"),
])
def test_usage_errors_exit_2_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(["study", *argv])       # through the main command line's dispatch
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m lstm_lib study" in err
    assert re.search(message, err), err
    assert list(tmp_path.iterdir()) == []      # no storage was created


def test_run_then_report(tmp_path, capsys, one_thread):
    storage = f"sqlite:///{tmp_path}/order.db"
    args = ["run", "--name", "order", "--storage", storage, "--task", "echo", "--variants",
            "vanilla,GRU", "--trials", "4", "--size", "tiny", "--no-progress"]
    assert study_cli.main(args) == 0
    assert "4 trials added" in capsys.readouterr().out
    more = [*args[:10], "2", *args[11:]]          # --trials 2
    assert study_cli.main(more) == 0
    assert "6 completed" in capsys.readouterr().out
    assert study_cli.main(["report", "--name", "order", "--storage", storage]) == 0
    out = capsys.readouterr().out
    assert "importance" in out and "6 completed" in out
    assert "vanilla" in out and "GRU" in out and "lr" in out
    # the same study for another task is refused with a message, not a traceback
    assert study_cli.main([*args[:6], "adding", *args[7:]]) == 1
    assert "holds task 'echo'" in capsys.readouterr().err


def test_report_of_an_unknown_study_names_the_stored_ones(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/s.db"
    from lstm_lib.study import run_study
    from tests.test_study import fake_train

    run_study("known", task="echo", trials=1, storage=storage, size="tiny", progress=False,
              train_fn=fake_train)
    with pytest.raises(SystemExit) as exc:
        study_cli.main(["report", "--name", "other", "--storage", storage])
    assert exc.value.code == 2 and "['known']" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_lstm_lib_study_with_two_workers(tmp_path):
    """The issue's 'done when': ``study run ... --workers 2`` then ``study report``."""
    storage = f"sqlite:///{tmp_path}/two.db"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LSTM_LIB_PROGRESS": "0"}
    run = subprocess.run([sys.executable, "-m", "lstm_lib", "study", "run", "--name", "two",
                          "--storage", storage, "--task", "echo", "--variants", "NP,GRU",
                          "--trials", "2", "--workers", "2", "--size", "tiny"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 trials added" in run.stdout
    report = subprocess.run([sys.executable, "-m", "lstm_lib", "study", "report", "--name",
                             "two", "--storage", storage], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env=env)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "importance" in report.stdout and "2 completed" in report.stdout
