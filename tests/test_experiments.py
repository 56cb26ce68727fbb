"""Tests of lstm_lib.experiments: the multi-seed comparison runner."""

import numpy as np
import pytest
import torch
from torch import nn

from lstm_lib.experiments import Task, compare, summarize
from lstm_lib.train import TrainConfig

CONFIG = TrainConfig(steps=3, batch_size=8, lr=1e-2, progress=False, device="cpu")


def _regression_task(per_seed=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None].astype(np.float32)
    batches = (lambda seed: (x, y)) if per_seed else (x, y)
    return Task("sum", batches, val=(x, y), loss="mse", baseline={"loss": float(y.var())},
                per_seed=per_seed)


def _classification_task():
    def batch_fn(step, rng):
        x = rng.standard_normal((8, 5, 3)).astype(np.float32)
        return x, (x[:, 0, 0] > 0).astype(np.int64)

    xv, yv = batch_fn(0, np.random.default_rng(1))
    return Task("sign", batch_fn, val=(xv, yv), loss="ce", metrics=("accuracy",))


class Flat(nn.Module):
    def __init__(self, D, T, out):
        super().__init__()
        self.lin = nn.Linear(D * T, out)

    def forward(self, x):
        return self.lin(x.flatten(1))


def test_compare_one_row_per_task_model_seed_with_columns():
    models = {"a": lambda: Flat(2, 4, 1), "b": lambda: nn.Sequential(nn.Flatten(), nn.Linear(8, 1))}
    df = compare(models, _regression_task(), seeds=[0, 1, 2], config=CONFIG)
    assert len(df) == 6
    assert list(df["model"]) == ["a"] * 3 + ["b"] * 3
    assert list(df["seed"]) == [0, 1, 2] * 2
    for col in ["task", "params", "steps", "loss", "final_train_loss", "train_time_s",
                "ms_per_step"]:
        assert col in df.columns
    assert (df["steps"] == 3).all()
    assert (df["params"] == 9).all()
    assert (df["train_time_s"] > 0).all()
    assert np.allclose(df["ms_per_step"], 1000 * df["train_time_s"] / 3)


def test_compare_is_deterministic_and_seeds_differ():
    models = {"flat": lambda: Flat(2, 4, 1)}
    a = compare(models, _regression_task(), seeds=[0, 1], config=CONFIG)
    b = compare(models, _regression_task(), seeds=[0, 1], config=CONFIG)
    assert list(a["loss"]) == list(b["loss"])
    assert a["loss"][0] != a["loss"][1]


def test_compare_initial_weights_depend_on_seed_only():
    """The factory runs right after seed_everything(seed): same seed, same init."""
    inits = []

    def factory():
        m = Flat(2, 4, 1)
        inits.append(m.lin.weight.detach().clone())
        return m

    compare({"x": factory, "y": factory}, _regression_task(), seeds=[3], config=CONFIG)
    assert torch.equal(inits[0], inits[1])


def test_compare_classification_metrics_and_several_tasks():
    models = {"flat": lambda: Flat(3, 5, 2)}
    df = compare(models, [_classification_task(), _classification_task()], seeds=[0],
                 config=CONFIG)
    assert len(df) == 2
    assert df["accuracy"].between(0, 1).all()


def test_compare_per_seed_training_data():
    df = compare({"flat": lambda: Flat(2, 4, 1)}, _regression_task(per_seed=True), seeds=[0],
                 config=CONFIG)
    assert len(df) == 1


@pytest.mark.parametrize("models, seeds, match", [
    ({}, [0], "at least one model"),
    ({"a": lambda: Flat(2, 4, 1)}, [], "at least one seed"),
    ({"a": lambda: Flat(2, 4, 1)}, [1, 1], "distinct"),
])
def test_compare_rejects_bad_arguments(models, seeds, match):
    with pytest.raises(ValueError, match=match):
        compare(models, _regression_task(), seeds=seeds, config=CONFIG)


def test_compare_rejects_non_module_factory_and_non_task():
    with pytest.raises(TypeError, match="nn.Module"):
        compare({"a": lambda: 3}, _regression_task(), seeds=[0], config=CONFIG)
    with pytest.raises(TypeError, match="Task"):
        compare({"a": lambda: Flat(2, 4, 1)}, [object()], seeds=[0], config=CONFIG)


def test_summarize_mean_std_min_max_n():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"task": ["t"] * 4, "model": ["b", "b", "a", "a"],
                       "loss": [1.0, 3.0, 2.0, 2.0]})
    s = summarize(df, "loss")
    assert list(s.index.get_level_values("model")) == ["b", "a"]  # first-appearance order
    assert s.loc[("t", "b"), "mean"] == 2.0
    assert s.loc[("t", "b"), "std"] == pytest.approx(np.sqrt(2.0))
    assert s.loc[("t", "a"), "std"] == 0.0
    assert s.loc[("t", "b"), "min"] == 1.0 and s.loc[("t", "b"), "max"] == 3.0
    assert (s["n"] == 2).all()
    with pytest.raises(ValueError, match="metric must be a column"):
        summarize(df, "accuracy")
    assert list(summarize(df, "loss", by="model").index) == ["b", "a"]


def test_accuracy_skips_ignored_targets():
    from lstm_lib.train import accuracy as masked_accuracy

    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])  # predicts 0, 1, 0
    y = torch.tensor([[0, 0, -100]])
    assert masked_accuracy(logits, y).item() == pytest.approx(0.5)
    assert masked_accuracy(logits[0], y[0]).item() == pytest.approx(0.5)
    assert masked_accuracy(logits, torch.tensor([[0, 1, 0]])).item() == 1.0


def test_compare_with_a_metric_mapping():
    from lstm_lib.train import accuracy as masked_accuracy

    task = _classification_task()
    task = Task(task.name, task.batches, task.val, loss="ce",
                metrics={"accuracy": masked_accuracy})
    df = compare({"flat": lambda: Flat(3, 5, 2)}, task, seeds=[0], config=CONFIG)
    assert df["accuracy"].between(0, 1).all()
