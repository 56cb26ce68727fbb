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


# ------------------------------------------------------------------ long-dependency experiments

def test_lag_task_adding_and_long_gap():
    from lstm_lib import data
    from lstm_lib.experiments import lag_task

    t = lag_task("adding", 12, batch_size=5, n_test=7)
    x, y = t.batches(0, np.random.default_rng(0))
    assert x.shape == (5, 12, 2) and y.shape == (5, 1)
    assert t.val[0].shape == (7, 12, 2) and t.loss == "mse"
    assert t.baseline == {"loss": pytest.approx(1 / 6)}
    g = lag_task("long_gap", 20, batch_size=3, n_test=4)
    x, y = g.batches(0, np.random.default_rng(0))
    assert x.shape == (3, 29) and y.shape == (3,)
    assert g.loss == "ce" and tuple(g.metrics) == ("accuracy",)
    assert g.baseline["accuracy"] == data.long_gap_memoryless_accuracy(20)
    # the test set is the same for every call, and differs from the training batches
    np.testing.assert_array_equal(g.val[0], lag_task("long_gap", 20, n_test=4).val[0])
    with pytest.raises(ValueError, match="task must be one of"):
        lag_task("copy", 10)


TINY = dict(steps=2, hidden=3, batch_size=4, device="cpu")


@pytest.mark.usefixtures("one_thread")
def test_lag_sweep_rows_columns_and_determinism():
    from lstm_lib.experiments import lag_sweep

    models = {"rnn": "rnn", "lstm, b_f = 1": ("lstm", {"forget_bias": 1.0})}
    df = lag_sweep(models, "adding", lags=(4, 6), seeds=(0, 1), **TINY)
    assert len(df) == 8
    assert list(df["lag"]) == [4] * 4 + [6] * 4
    assert list(df["model"][:4]) == ["rnn", "rnn", "lstm, b_f = 1", "lstm, b_f = 1"]
    assert list(df["kind"][:4]) == ["rnn", "rnn", "lstm", "lstm"]
    assert (df["score"] == df["loss"]).all() and np.allclose(df["baseline"], 1 / 6)
    assert (df["steps"] == 2).all()
    again = lag_sweep(models, "adding", lags=(4, 6), seeds=(0, 1), **TINY)
    assert list(again["score"]) == list(df["score"])
    assert "history" not in df.columns


@pytest.mark.usefixtures("one_thread")
def test_lag_sweep_long_gap_keeps_models_and_histories():
    from lstm_lib import data
    from lstm_lib.experiments import lag_sweep
    from lstm_lib.train import History

    df = lag_sweep(["rnn"], "long_gap", lags=(0, 5), keep=True, **TINY)
    assert list(df["lag"]) == [0, 5]
    assert df["score"].between(0, 1).all() and (df["score"] == df["accuracy"]).all()
    assert list(df["baseline"]) == [data.long_gap_memoryless_accuracy(g) for g in (0, 5)]
    assert isinstance(df["history"][0], History) and len(df["history"][0].train_loss) == 2
    assert isinstance(df["trained"][0], nn.Module)
    # the forget bias reaches the layer: b_f = bias_ih + bias_hh, block f of (i, f, g, o)
    df = lag_sweep({"l": ("lstm", {"forget_bias": 3.0})}, "long_gap", lags=(0,), keep=True,
                   **{**TINY, "steps": 1})
    rnn = df["trained"][0].rnn
    b_f = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[3:6].detach()
    assert torch.allclose(b_f, torch.full((3,), 3.0), atol=0.1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(models={}, task="adding", lags=(4,)), ValueError, "at least one model"),
    (dict(models=["rnn"], task="adding", lags=()), ValueError, "at least one lag"),
    (dict(models=["rnn"], task="parity", lags=(4,)), ValueError, "task must be one of"),
    (dict(models={"x": ("rnn", 3)}, task="adding", lags=(4,)), TypeError, "kind or a pair"),
])
def test_lag_sweep_rejects_bad_arguments(kwargs, error, match):
    from lstm_lib.experiments import lag_sweep

    with pytest.raises(error, match=match):
        lag_sweep(**kwargs, **TINY)


@pytest.mark.usefixtures("one_thread")
def test_plot_lag_sweep_draws_models_and_baseline():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_lib.experiments import lag_sweep, plot_lag_sweep

    df = lag_sweep(["rnn"], "long_gap", lags=(0, 5), seeds=(0, 1), **TINY)
    fig, ax = plt.subplots()
    assert plot_lag_sweep(df, ax=ax) is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert "rnn" in labels and "memoryless baseline" in labels
    base = [line for line in ax.get_lines() if line.get_label() == "memoryless baseline"][0]
    np.testing.assert_allclose(base.get_ydata(), df.groupby("lag")["baseline"].first())
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "test accuracy"
    plt.close(fig)
    with pytest.raises(ValueError, match="lag_sweep table"):
        plot_lag_sweep(df.drop(columns="baseline"))


@pytest.mark.usefixtures("one_thread")
def test_learning_signal_shape_order_and_model_argument():
    from lstm_lib import seed_everything
    from lstm_lib.experiments import _lag_model, learning_signal

    g = learning_signal("rnn", seq_len=12, n=8, hidden=4)
    assert g.shape == (12,) and g.dtype == np.float64 and (g > 0).all()
    assert g[0] > g[-1]                         # the last input hears the loss the most
    seed_everything(0)
    model = _lag_model("adding", "rnn", 4, {})
    before = [p.detach().clone() for p in model.parameters()]
    np.testing.assert_allclose(learning_signal(model, seq_len=12, n=8), g, rtol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert next(model.parameters()).dtype == torch.float32           # the model is not changed
    # a large forget bias keeps more signal at the far end than a zero one
    far = {b: learning_signal("lstm", seq_len=40, n=8, hidden=4, forget_bias=b)[-1] /
           learning_signal("lstm", seq_len=40, n=8, hidden=4, forget_bias=b)[0] for b in (0.0, 3.0)}
    assert far[3.0] > 100 * far[0.0]
    with pytest.raises(TypeError, match="kind"):
        learning_signal(3)
    with pytest.raises(ValueError, match="layer_kwargs"):
        learning_signal(model, forget_bias=1.0)
