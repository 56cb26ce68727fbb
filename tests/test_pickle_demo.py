"""lstm_lib.pickle_demo: a checkpoint that runs code on an unsafe load, refused by a safe one."""

from __future__ import annotations

import pickle

import pytest
import torch

from lstm_lib.models import SequenceModel
from lstm_lib.pickle_demo import save_code_running_checkpoint
from lstm_lib.train import load_checkpoint


def test_unsafe_load_runs_code_safe_load_refuses(tmp_path, capsys):
    path = save_code_running_checkpoint(tmp_path / "evil.pt", "ran!")
    torch.load(path, weights_only=False)
    assert capsys.readouterr().out == "ran!\n"
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path, SequenceModel("lstm", 1, 2, 1))
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="message must be a str"):
        save_code_running_checkpoint(tmp_path / "x.pt", 3)
