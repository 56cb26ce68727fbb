"""Hostile command lines: every bad argument of ``python -m lstm_lib train`` is a usage error
(exit 2, argparse's "usage:" and a message naming the option) raised before any work starts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import lstm_lib.train
from lstm_lib import cli
from lstm_lib.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "2", "--batch-size", "4", "--hidden-size", "4", "--val-size", "8",
        "--no-progress", "--device", "cpu"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any data is drawn or any training starts."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(lstm_lib.train, "fit", forbidden)
    real_make = cli._make
    calls = []

    def make(fn, n, length, seed):
        calls.append(n)
        if n > 1:                       # drawing one example to probe the task is allowed
            forbidden()
        return real_make(fn, n, length, seed)

    monkeypatch.setattr(cli, "_make", make)
    return calls


def _usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    return err


CASES = [
    # (argv after "train", message)
    (["--seed", "4294967296"], r"--seed: must be an integer in [0, 4294967295]"),
    (["--seed", "99999999999999999999999999"], "--seed: must be an integer in"),
    (["--seed", "-1"], "--seed: must be an integer in"),
    (["--seed", "1e3"], "--seed: must be an integer in [0, 4294967295], got '1e3'"),
    (["--steps", "0"], "--steps: must be a positive integer, got 0"),
    (["--steps", "2.5"], "--steps: must be a positive integer, got '2.5'"),
    (["--steps", "many"], "--steps: must be a positive integer, got 'many'"),
    (["--batch-size", "-3"], "--batch-size: must be a positive integer"),
    (["--hidden-size", "0"], "--hidden-size: must be a positive integer"),
    (["--num-layers", "0"], "--num-layers: must be a positive integer"),
    (["--val-size", "0"], "--val-size: must be a positive integer"),
    (["--eval-every", "0"], "--eval-every: must be a positive integer"),
    (["--lr", "nan"], "--lr: must be a positive number, got nan"),
    (["--lr", "inf"], "--lr: must be a positive number"),
    (["--lr", "0"], "--lr: must be a positive number"),
    (["--lr", "fast"], "--lr: must be a positive number, got 'fast'"),
    (["--clip-norm", "-1"], "--clip-norm: must be a number >= 0"),
    (["--clip-value", "nan"], "--clip-value: must be a number >= 0"),
    (["--clip-norm", "1", "--clip-value", "5"], "exclude each other"),
    (["--task", "sorting"], "invalid choice: 'sorting'"),
    (["--cell", "transformer"], "invalid choice: 'transformer'"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--device", "tpu"], "--device 'tpu'"),
    (["--device", "cuda:99"], "--device cuda:99"),
    # task limits: probed with one example, before any data set is drawn
    (["--task", "temporal-order", "--seq-len", "5"],
     "--task temporal-order --seq-len 5: seq_len must be >= 20, got 5"),
    (["--task", "adding", "--seq-len", "1"], "--task adding --seq-len 1: seq_len must be >= 2"),
    (["--seq-len", "100000000"], "the data would need more than 2 GiB"),
    (["--val-size", "10000000", "--seq-len", "100"], "the data would need more than 2 GiB"),
    (["--task", "copy", "--seq-len", "20000", "--val-size", "3000"], "exceed 2 GiB"),
    (["--hidden-size", "100000"], "--hidden-size 100000 --num-layers 1: about 8e+10 parameters"),
    (["--hidden-size", "4096", "--num-layers", "20"], "parameters, more than"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_train_argument_is_a_usage_error(argv, match, capsys, no_work):
    err = _usage_error(["train", *argv], capsys)
    assert match in err
    if "unrecognized" not in match:  # argparse reports extra arguments at the top level
        assert err.startswith("usage: python -m lstm_lib train")   # train's own usage


def test_device_that_is_not_there(capsys, no_work):
    if not torch.backends.mps.is_available():
        assert "MPS is not available" in _usage_error(["train", "--device", "mps"], capsys)
    if not torch.cuda.is_available():
        assert "CUDA is not available" in _usage_error(["train", "--device", "cuda"], capsys)
    else:
        n = torch.cuda.device_count()
        assert f"{n} CUDA device(s)" in _usage_error(["train", "--device", f"cuda:{n}"], capsys)


def test_bad_device_in_the_environment(monkeypatch, capsys, no_work):
    monkeypatch.setenv("LSTM_LIB_DEVICE", "abacus")
    assert "abacus" in _usage_error(["train", "--steps", "1"], capsys)


# --save is checked before training, so a bad path never costs a trained model.
def _save_cases(tmp_path: Path):
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    return {
        "existing_directory": (str(tmp_path / "adir"), "is a directory; give a file name"),
        "trailing_slash": (str(tmp_path / "new") + "/", "is a directory; give a file name"),
        "under_a_file": (str(tmp_path / "afile" / "run.pt"), "afile is not a directory"),
        "deep_under_a_file": (str(tmp_path / "afile" / "a" / "b" / "run.pt"),
                              "afile is not a directory"),
    }


@pytest.mark.parametrize("case", ["existing_directory", "trailing_slash", "under_a_file",
                                  "deep_under_a_file"])
def test_bad_save_path_is_refused_before_training(case, tmp_path, capsys, no_work):
    path, match = _save_cases(tmp_path)[case]
    err = _usage_error(["train", *TINY, "--save", path], capsys)
    assert f"--save {path}" in err and match in err
    assert no_work == []                                    # not even the task was probed


def test_unwritable_save_directory_is_refused(tmp_path, monkeypatch, capsys, no_work):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    err = _usage_error(["train", *TINY, "--save", str(tmp_path / "run.pt")], capsys)
    assert "cannot write in" in err and "Permission denied" in err
    assert not (tmp_path / "run.pt").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_save_into_a_read_only_place(capsys, no_work):
    assert "cannot write in /proc" in _usage_error(["train", "--save", "/proc/run.pt"], capsys)


def test_save_into_new_directories_still_works(tmp_path, capsys):
    path = tmp_path / "runs" / "a" / "run.pt"
    assert main(["train", "--task", "adding", "--seq-len", "4", *TINY, "--save", str(path)]) == 0
    assert path.is_file() and "saved" in capsys.readouterr().out


def test_largest_seed_is_accepted(capsys):
    assert main(["train", "--task", "adding", "--seq-len", "4", *TINY,
                 "--seed", str(cli.MAX_SEED)]) == 0


def test_script_exits_2_without_a_traceback():
    env = {**os.environ, "LSTM_LIB_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "lstm_lib", "train", "--seed", "2" * 30],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr
    assert "--seed: must be an integer in" in result.stderr


def test_home_in_save_path_is_expanded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["train", "--task", "adding", "--seq-len", "4", *TINY, "--save=~/run.pt"]) == 0
    assert (tmp_path / "run.pt").is_file() and not Path("~").exists()


def test_a_save_that_fails_after_training_keeps_the_model(tmp_path, monkeypatch, capsys):
    real_save = lstm_lib.train.save_checkpoint
    target = tmp_path / "run.pt"

    def disk_full_once(path, *args, **kwargs):
        if Path(path) == target:
            raise OSError(28, "No space left on device")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(lstm_lib.train, "save_checkpoint", disk_full_once)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert main(["train", "--task", "adding", "--seq-len", "4", *TINY, "--save",
                 str(target)]) == 1
    err = capsys.readouterr().err
    assert "could not save to" in err and "No space left" in err
    saved = list((tmp_path / "tmp").glob("lstm_lib-*-run.pt"))
    assert len(saved) == 1 and str(saved[0]) in err
    assert torch.load(saved[0], weights_only=True)["extra"]["task"] == "adding"
