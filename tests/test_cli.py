"""The command line: python -m lstm_lib {train,info}."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_lib import cli
from lstm_lib.__main__ import main
from lstm_lib.models import SequenceModel
from lstm_lib.train import History, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "4", "--batch-size", "8", "--hidden-size", "4", "--val-size", "16",
        "--no-progress", "--device", "cpu"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _has_data_tasks() -> bool:
    try:
        cli._task_function("adding")
    except SystemExit:
        return False
    return True


needs_data = pytest.mark.skipif(not _has_data_tasks(),
                                reason="lstm_lib.data's tasks are not available yet")


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "info" in out
    flat = " ".join(out.split())  # argparse wraps the help to the terminal's width
    assert "{train,study,info}" in flat and "study run | study report" in flat


def test_train_help_lists_tasks_and_cells(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("--task", "--cell", "--seq-len", "--clip-norm", "--save", "temporal-order",
                 "peephole", "torch-lstm"):
        assert word in out


@pytest.mark.parametrize("argv, match", [
    (["train", "--task", "sorting"], "invalid choice: 'sorting'"),
    (["train", "--cell", "transformer"], "invalid choice: 'transformer'"),
    (["train", "--steps", "0"], "must be a positive integer"),
    (["train", "--clip-norm", "1", "--clip-value", "5"], "exclude each other"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_are_argparse_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert match in capsys.readouterr().err


def test_unavailable_cuda_is_an_argparse_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--device", "cuda", *TINY[:-2]])
    assert exc.value.code == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_info(monkeypatch, capsys):
    monkeypatch.setenv("LSTM_LIB_DEVICE", "cpu")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}" in out
    assert "default device: cpu" in out
    assert "LSTM_LIB_DEVICE: 'cpu'" in out


def _fake_tasks(monkeypatch):
    """Stand-ins with the data module's shapes, to test the CLI's logic on its own."""
    def adding(n, seq_len, *, seed):
        g = np.random.default_rng(seed)
        x = g.random((n, seq_len, 2), dtype=np.float32)
        return x, x[:, :2, 0].sum(axis=1, keepdims=True)

    def copy(n, delay, *, seed):
        g = np.random.default_rng(seed)
        T = delay + 20
        y = np.zeros((n, T), dtype=np.int64)
        y[:, -10:] = g.integers(1, 9, size=(n, 10))
        return np.eye(10, dtype=np.float32)[y], y

    def order(n, seq_len, *, seed):
        g = np.random.default_rng(seed)
        y = g.integers(0, 4, size=n)
        return np.eye(8, dtype=np.float32)[g.integers(0, 8, size=(n, seq_len))], y

    fakes = {"adding": adding, "copy": copy, "temporal-order": order}
    monkeypatch.setattr(cli, "_task_function", lambda name: fakes[name])
    monkeypatch.setattr(cli, "_published_baseline", lambda name, L, empirical: empirical)


@pytest.mark.parametrize("task, loss, readout, classes", [
    ("adding", "mse", "last", 1), ("copy", "ce", "all", 9), ("temporal-order", "ce", "last", 4)])
def test_train_tiny_fake_tasks(monkeypatch, capsys, tmp_path, task, loss, readout, classes):
    _fake_tasks(monkeypatch)
    path = tmp_path / "run.pt"
    assert main(["train", "--task", task, "--cell", "torch-gru", "--seq-len", "5", *TINY,
                 "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"final validation {loss}" in out and "memoryless baseline" in out
    assert ("final validation accuracy" in out) == (loss == "ce")
    # the checkpoint names the model's constructor arguments, so it can be rebuilt
    model_kwargs = torch.load(path, weights_only=True)["extra"]["model"]
    assert model_kwargs["readout"] == readout and model_kwargs["output_size"] == classes
    loaded = load_checkpoint(path, SequenceModel(**model_kwargs))
    assert isinstance(loaded["history"], History) and len(loaded["history"].train_loss) == 4
    assert loaded["config"].steps == 4


def test_memoryless_baseline():
    g = np.random.default_rng(0)
    y = g.random((20000, 2)).sum(axis=1, keepdims=True)
    assert cli.memoryless_baseline(y[:10000], y[10000:], "mse")["loss"] == \
        pytest.approx(1 / 6, rel=0.05)
    # per-step classes: blank (0) for 10 steps, then uniform over 1..8 for 10 steps
    yc = np.zeros((4000, 20), dtype=np.int64)
    yc[:, 10:] = g.integers(1, 9, size=(4000, 10))
    base = cli.memoryless_baseline(yc[:2000], yc[2000:], "ce")
    assert base["loss"] == pytest.approx(10 * np.log(8) / 20, rel=0.02)
    assert base["accuracy"] == pytest.approx((10 + 10 / 8) / 20, abs=0.02)


@needs_data
@pytest.mark.parametrize("task", sorted(cli.TASKS))
def test_train_tiny_real_tasks(task, capsys):
    assert main(["train", "--task", task, "--cell", "torch-lstm", "--seq-len", "20", *TINY]) == 0
    out = capsys.readouterr().out
    assert "memoryless baseline" in out


@needs_data
def test_module_runs_as_a_script(tmp_path):
    env = {**os.environ, "LSTM_LIB_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "lstm_lib", "train", "--task", "adding", "--cell", "lstm",
         "--seq-len", "10", "--steps", "3", "--batch-size", "4", "--hidden-size", "4",
         "--val-size", "8"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "memoryless baseline 0.1667" in result.stdout
    assert "3/3" in result.stderr  # the progress bar
