"""Shared fixtures: a seeded generator for every test, hypothesis profiles."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _compiled_loops() -> str:
    """Build (or load from the cache) the compiled LSTM loops once per process, before any test
    runs: outside the suite's warnings-are-errors filter, so that a machine without a compiler
    runs the suite on the Python loops (the tests that need the kernel skip there)."""
    import warnings

    import torch

    from lstm_lib.nn import compiled, slstm_fused

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = compiled.available()
        slstm_fused.compiled_available(torch.zeros(1))  # the sLSTM's loops, built here too
    return "on" if ok else f"off ({compiled.error() or 'LSTM_LIB_COMPILED=0'})"


def pytest_configure(config):
    config._lstm_lib_compiled = _compiled_loops()


def pytest_report_header(config):
    return f"lstm_lib compiled LSTM loops: {getattr(config, '_lstm_lib_compiled', '?')}"


@pytest.fixture
def no_network(monkeypatch):
    """Fail any attempt to open a connection: loaders must work offline (use with usefixtures)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the test machine's cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator: tests are repeatable and independent of their order."""
    return np.random.default_rng(20260101)


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tools/ (the book build) is not an installed package
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the whole book once per test session, strictly, into a fresh directory.

    An incremental build can hide failures (a chapter that no longer runs keeps its old cached
    output), so the tests never reuse ``_build``. Returns the html directory.
    """
    from tools.book import build

    out = tmp_path_factory.mktemp("book")
    code = build(out, fresh=True)
    if code != 0:
        pytest.fail(f"the book build failed with exit code {code}; its log is above", pytrace=False)
    return out / "_build" / "html"
