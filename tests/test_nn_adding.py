"""The adding problem (Hochreiter & Schmidhuber 1997) at T = 100: LSTM and GRU learn it, the
Elman RNN does not. Slow: run with ``pytest -m slow tests/test_nn_adding.py``."""

from __future__ import annotations

import time

import pytest
import torch

from lstm_lib import nn as lnn

T, BATCH, STEPS, BASELINE = 100, 64, 3000, 1 / 6  # predict-the-mean MSE = Var(a + b) = 2/12


def adding_batch(N: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x (T, N, 2): values U[0, 1] and a 0/1 marker, one marker in each half; y (N,) the sum."""
    values = torch.rand(T, N, generator=generator)
    first = torch.randint(0, T // 2, (N,), generator=generator)
    second = torch.randint(T // 2, T, (N,), generator=generator)
    markers = torch.zeros(T, N)
    markers[first, torch.arange(N)] = 1.0
    markers[second, torch.arange(N)] = 1.0
    y = (values * markers).sum(0)
    return torch.stack([values, markers], dim=-1), y


class Regressor(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.rnn, self.head = layer, torch.nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.head(output[-1]).squeeze(-1)  # (N,)


def train_adding(name: str, seed: int = 0, hidden_size: int = 32, lr: float = 3e-3,
                 steps: int = STEPS, target: float = 0.01, eval_every: int = 100) -> dict:
    """Train with Adam until the test MSE is below ``target`` or ``steps`` run out."""
    torch.manual_seed(seed)
    layer = {"LSTM": lambda: lnn.LSTM(2, hidden_size, forget_bias=1.0),
             "GRU": lambda: lnn.GRU(2, hidden_size),
             "RNN": lambda: lnn.RNN(2, hidden_size)}[name]()
    model = Regressor(layer, hidden_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g_train, g_test = torch.Generator().manual_seed(seed + 1), torch.Generator().manual_seed(999)
    x_test, y_test = adding_batch(1000, T, g_test)
    start, test_mse, step = time.perf_counter(), float("nan"), 0
    for step in range(1, steps + 1):
        x, y = adding_batch(BATCH, T, g_train)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                test_mse = torch.nn.functional.mse_loss(model(x_test), y_test).item()
            if test_mse < target:
                break
    return {"model": name, "test_mse": test_mse, "steps": step,
            "seconds": time.perf_counter() - start}


@pytest.mark.slow
def test_lstm_and_gru_solve_adding_problem_rnn_does_not():
    results = {name: train_adding(name) for name in ("LSTM", "GRU", "RNN")}
    print(results)
    assert results["LSTM"]["test_mse"] < 0.01, results
    assert results["GRU"]["test_mse"] < 0.01, results
    assert results["RNN"]["test_mse"] > 0.5 * BASELINE, results


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:] or ["LSTM", "GRU", "RNN"]:
        print(train_adding(name), flush=True)
