"""lstm_lib.default_device() and lstm_lib.seed_everything()."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import lstm_lib


def test_default_device_follows_what_torch_sees(monkeypatch):
    monkeypatch.delenv("LSTM_LIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert lstm_lib.default_device().type == expected


def test_default_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("LSTM_LIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert lstm_lib.default_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lstm_lib.default_device().type == "cuda"


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("LSTM_LIB_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lstm_lib.default_device() == torch.device("cpu")


def test_environment_variable_naming_a_missing_device_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LSTM_LIB_DEVICE", "cuda:0")
    with pytest.raises(RuntimeError, match=r"LSTM_LIB_DEVICE='cuda:0'.*CUDA"):
        lstm_lib.default_device()
    monkeypatch.setenv("LSTM_LIB_DEVICE", "gpu please")
    with pytest.raises(ValueError, match="not a torch device"):
        lstm_lib.default_device()


def test_seed_everything_repeats_every_generator():
    def draw():
        return (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002

    gen = lstm_lib.seed_everything(7)
    first, first_gen = draw(), gen.random()
    lstm_lib.seed_everything(7)
    assert draw() == first
    assert lstm_lib.seed_everything(7).random() == first_gen
    lstm_lib.seed_everything(8)
    assert draw() != first


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("0", TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed"):
        lstm_lib.seed_everything(bad)


def test_submodules_load_lazily():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lstm_lib.nope  # noqa: B018
