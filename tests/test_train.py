"""lstm_lib.train: the fit loop, clipping, early stopping, determinism, inputs, checkpoints."""

from __future__ import annotations

import functools
import json
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lstm_lib.train import (
    History,
    TrainConfig,
    compute_loss,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
)

CPU = dict(device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


class LastStep(nn.Module):
    """A tiny recurrent regressor: torch.nn.LSTM + linear head on the last step."""

    def __init__(self, D=2, H=8, out=1, dropout=0.0):
        super().__init__()
        self.rnn = nn.LSTM(D, H, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(H, out)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1]))


def sum_task(rng, n=64, T=5):
    """y = sum of the first feature: learnable in a few dozen steps."""
    x = rng.standard_normal((n, T, 2)).astype(np.float32)
    return x, x[:, :, 0].sum(axis=1, keepdims=True)


def linear_data(rng, n=32, D=3):
    x = rng.standard_normal((n, D)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 3.0)


# ----------------------------------------------------------------------------- config

def test_config_rejects_both_clipping_kinds():
    with pytest.raises(ValueError, match="at most one of clip_norm and clip_value"):
        TrainConfig(clip_norm=1.0, clip_value=5.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps must be >= 1"),
    (dict(optimizer="lbfgs"), "optimizer must be one of"),
    (dict(lr=-1.0), "lr must be"),
    (dict(clip_norm=float("nan")), "clip_norm must be"),
    (dict(patience=-1), "patience must be >= 0"),
])
def test_config_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().lr = 1.0


# ----------------------------------------------------------------------------- fit basics

def test_fit_reduces_loss_on_tiny_problem(rng):
    torch.manual_seed(0)
    x, y = sum_task(rng, n=64)
    model = LastStep()
    before = evaluate(model, (x, y), "mse")["loss"]
    h = fit(model, (x, y), (x, y), config=TrainConfig(steps=100, lr=2e-2, eval_every=40, **CPU))
    assert len(h.step) == len(h.train_loss) == len(h.grad_norm) == len(h.time) == 100
    assert h.lr == [2e-2] * 100
    assert h.val_step == [40, 80, 100]  # and after the last step
    assert h.best_val < 0.1 * before
    assert all(math.isfinite(v) and v >= 0 for v in h.grad_norm)
    assert h.time == sorted(h.time) and h.wall_time > 0
    assert h.device == "cpu" and h.config["steps"] == 100


def test_fit_with_progress_bar_runs(rng, capsys):
    x, y = linear_data(rng)
    h = fit(nn.Linear(3, 1), (x, y), (x, y),
            config=TrainConfig(steps=5, eval_every=2, device="cpu", progress=True))
    assert len(h.train_loss) == 5
    assert "step" in capsys.readouterr().err  # tqdm writes to stderr


def test_fit_ce_per_step_outputs(rng):
    """(N, T, C) logits with (N, T) targets: learn to echo the input class at every step."""
    torch.manual_seed(0)
    N, T, C = 64, 4, 3
    y = rng.integers(0, C, size=(N, T))
    x = np.eye(C, dtype=np.float32)[y]  # (N, T, C) one-hot

    class PerStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(C, 8, batch_first=True)
            self.head = nn.Linear(8, C)

        def forward(self, x):
            return self.head(self.rnn(x)[0])  # (N, T, C)

    h = fit(PerStep(), (x, y), (x, y), config=TrainConfig(steps=120, lr=3e-2, eval_every=60,
                                                          **CPU),
            loss="ce", metrics=["accuracy"])
    assert h.val_metrics["accuracy"][-1] > 0.9
    assert h.val_loss[-1] < h.train_loss[0]


def test_compute_loss_ce_shapes():
    out = torch.randn(4, 5, 3)
    y = torch.randint(0, 3, (4, 5))
    expected = nn.functional.cross_entropy(out.reshape(20, 3), y.reshape(20))
    torch.testing.assert_close(compute_loss("ce", out, y), expected)
    torch.testing.assert_close(compute_loss("ce", out[:, 0], y[:, :1]),  # (N, C) with (N, 1)
                               nn.functional.cross_entropy(out[:, 0], y[:, 0]))
    with pytest.raises(ValueError, match=r"output \(4, 5, 3\), target \(4,\)"):
        compute_loss("ce", out, y[:, 0])


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(ValueError, match=r"same shape: output \(4, 1\), target \(4,\)"):
        compute_loss("mse", torch.zeros(4, 1), torch.zeros(4))


def test_unknown_loss_is_an_error(rng):
    x, y = linear_data(rng)
    with pytest.raises(ValueError, match="loss must be one of"):
        fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=1, **CPU), loss="hinge")


def test_nonfinite_loss_raises(rng):
    x, y = linear_data(rng)
    with pytest.raises(FloatingPointError, match="at step 1"):
        fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=3, **CPU),
            loss=lambda out, y: (out - y).pow(2).mean() * float("nan"))


# ----------------------------------------------------------------------------- clipping

def _one_sgd_step(rng, **clip):
    """One full-batch SGD step through fit, and the same step by hand."""
    torch.manual_seed(0)
    x, y = linear_data(rng, n=16)
    model = nn.Linear(3, 1)
    ref = nn.Linear(3, 1)
    ref.load_state_dict(model.state_dict())
    lr = 0.1
    cfg = TrainConfig(steps=1, batch_size=16, lr=lr, optimizer="sgd", **clip, **CPU)
    h = fit(model, (x, y), config=cfg)
    loss = nn.functional.mse_loss(ref(torch.from_numpy(x)), torch.from_numpy(y))
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    return model, ref, grads, lr, h


def test_clip_norm_bounds_the_applied_gradient(rng):
    model, ref, grads, lr, h = _one_sgd_step(rng, clip_norm=0.5)
    norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    assert norm > 0.5  # so that clipping acts
    assert h.grad_norm[0] == pytest.approx(norm.item(), rel=1e-5)  # recorded before clipping
    scale = 0.5 / (norm + 1e-6)  # torch's clip_grad_norm_
    applied = []
    for p, p0, g in zip(model.parameters(), ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), p0.detach() - lr * scale * g)
        applied.append((p0.detach() - p.detach()) / lr)
    assert torch.sqrt(sum(a.pow(2).sum() for a in applied)) <= 0.5 + 1e-5


def test_clip_value_clamps(rng):
    model, ref, grads, lr, h = _one_sgd_step(rng, clip_norm=0.0, clip_value=0.3)
    assert max(g.abs().max() for g in grads) > 0.3
    for p, p0, g in zip(model.parameters(), ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), p0.detach() - lr * g.clamp(-0.3, 0.3))
    assert h.grad_norm[0] == pytest.approx(torch.sqrt(sum(g.pow(2).sum() for g in grads)).item(),
                                           rel=1e-5)


def test_no_clipping_applies_the_raw_gradient(rng):
    model, ref, grads, lr, _ = _one_sgd_step(rng, clip_norm=0.0)
    for p, p0, g in zip(model.parameters(), ref.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), p0.detach() - lr * g)


# ----------------------------------------------------------------------------- early stopping

def test_early_stopping_stops_and_restores_best_weights(rng):
    """Validation targets are the negated train targets: val loss rises as training succeeds."""
    torch.manual_seed(0)
    x, y = linear_data(rng, n=64)
    model = nn.Linear(3, 1)
    snapshots = {}

    def record(step, model=model):
        snapshots[step] = {k: v.clone() for k, v in model.state_dict().items()}

    cfg = TrainConfig(steps=500, lr=5e-2, eval_every=5, patience=3, **CPU)
    h = fit(model, (x, y), (x, -y), config=cfg)
    assert h.stopped_early
    assert len(h.step) < 500
    best = int(np.argmin(h.val_loss))
    assert h.best_step == h.val_step[best]
    assert len(h.val_loss) == best + 1 + 3  # exactly `patience` evaluations without improvement
    # the model holds the best weights again: its val loss is the best one
    assert evaluate(model, (x, -y), "mse")["loss"] == pytest.approx(h.best_val, rel=1e-5)
    assert h.val_loss[-1] > h.best_val


def test_without_patience_training_runs_to_the_end(rng):
    x, y = linear_data(rng)
    h = fit(nn.Linear(3, 1), (x, y), (x, -y),
            config=TrainConfig(steps=30, lr=5e-2, eval_every=5, **CPU))
    assert not h.stopped_early and len(h.step) == 30


# ----------------------------------------------------------------------------- determinism

def _seeded_run(x, y, seed):
    torch.manual_seed(123)
    model = LastStep(dropout=0.3)  # dropout: the loop's own randomness must be seeded too
    cfg = TrainConfig(steps=25, batch_size=16, lr=1e-2, eval_every=10, seed=seed, **CPU)
    return fit(model, (x, y), (x, y), config=cfg)


def test_same_seed_same_history(rng):
    x, y = sum_task(rng, n=48)
    a, b, c = _seeded_run(x, y, 7), _seeded_run(x, y, 7), _seeded_run(x, y, 8)
    assert a.train_loss == b.train_loss
    assert a.grad_norm == b.grad_norm
    assert a.val_loss == b.val_loss
    assert a.train_loss != c.train_loss  # the seed matters: shuffling and dropout differ


# ----------------------------------------------------------------------------- inputs

def test_batch_fn_input(rng):
    seen = []

    def batch_fn(step, gen):
        seen.append(step)
        assert isinstance(gen, np.random.Generator)
        x = gen.standard_normal((16, 3)).astype(np.float32)
        return x, x @ np.ones((3, 1), dtype=np.float32)

    model = nn.Linear(3, 1)
    h = fit(model, batch_fn, config=TrainConfig(steps=60, lr=5e-2, **CPU))
    assert seen == list(range(1, 61))
    assert np.mean(h.train_loss[-10:]) < 0.1 * np.mean(h.train_loss[:5])


def test_tuple_input_accepts_tensors_and_float64(rng):
    x, y = linear_data(rng)
    model = nn.Linear(3, 1)
    h = fit(model, (torch.from_numpy(x).double(), torch.from_numpy(y).double()),
            config=TrainConfig(steps=10, batch_size=8, **CPU))
    assert len(h.train_loss) == 10
    assert model.weight.dtype == torch.float32  # data follow the model's dtype, not vice versa


def test_tuple_epochs_set_the_number_of_steps(rng):
    x, y = linear_data(rng, n=20)
    h = fit(nn.Linear(3, 1), (x, y), config=TrainConfig(epochs=3, batch_size=8, **CPU))
    assert len(h.step) == 3 * 3  # ceil(20 / 8) = 3 batches per epoch


def test_dataloader_input_cycles_and_counts_epochs(rng):
    x, y = linear_data(rng, n=64)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16,
                        shuffle=True, generator=torch.Generator().manual_seed(0))
    model = nn.Linear(3, 1)
    h = fit(model, loader, loader, config=TrainConfig(steps=100, lr=5e-2, eval_every=50, **CPU))
    assert len(h.step) == 100  # 4 batches per pass, cycled
    assert h.val_loss[-1] < 0.1 * h.train_loss[0]
    h2 = fit(model, loader, config=TrainConfig(epochs=2, **CPU))
    assert len(h2.step) == 8


def test_short_iterator_warns(rng):
    x, y = linear_data(rng)
    batches = iter([(x[:8], y[:8]), (x[8:16], y[8:16])])
    with pytest.warns(RuntimeWarning, match="ran out of batches after 2 of 5 steps"):
        h = fit(nn.Linear(3, 1), batches, config=TrainConfig(steps=5, **CPU))
    assert len(h.step) == 2


def test_bad_train_type():
    with pytest.raises(TypeError, match="train must be a pair"):
        fit(nn.Linear(3, 1), 42, config=TrainConfig(steps=1, **CPU))


def test_optimizer_instance_and_factory(rng):
    x, y = linear_data(rng)
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, (x, y), config=TrainConfig(steps=3, **CPU),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    for p, p0 in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(p.detach(), p0)
    fit(model, (x, y), config=TrainConfig(steps=3, **CPU),
        optimizer=functools.partial(torch.optim.SGD, lr=0.1))
    assert not torch.equal(model.weight.detach(), before[0])


def test_scheduler_is_stepped_and_lr_recorded(rng):
    x, y = linear_data(rng)
    h = fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=4, lr=0.1, **CPU),
            scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert h.lr == pytest.approx([0.1, 0.05, 0.025, 0.0125])


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
def test_named_optimizers(rng, name):
    x, y = linear_data(rng)
    h = fit(nn.Linear(3, 1), (x, y),
            config=TrainConfig(steps=40, lr=2e-2, optimizer=name, weight_decay=1e-4, **CPU))
    assert h.train_loss[-1] < h.train_loss[0]


def test_evaluate_matches_full_batch_loss(rng):
    x, y = linear_data(rng, n=50)
    model = nn.Linear(3, 1)
    full = nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).item()
    result = evaluate(model, (x, y), "mse", batch_size=16, metrics=["mae"])  # 16+16+16+2
    assert result["loss"] == pytest.approx(full, rel=1e-6)
    assert set(result) == {"loss", "mae"}
    assert model.training  # mode restored


def test_predict_batches_in_eval_mode(rng):
    torch.manual_seed(0)
    x, _ = sum_task(rng, n=10)
    model = LastStep(dropout=0.5)  # eval mode: dropout off, so batches agree with one call
    out = predict(model, x, batch_size=3)
    assert isinstance(out, np.ndarray) and out.shape == (10, 1)
    model.eval()
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


# ----------------------------------------------------------------------------- devices

def test_device_follows_env(monkeypatch, rng):
    monkeypatch.setenv("LSTM_LIB_DEVICE", "cpu")
    x, y = linear_data(rng)
    model = nn.Linear(3, 1)
    h = fit(model, (x, y), config=TrainConfig(steps=2, progress=False))  # device=None
    assert h.device == "cpu"
    assert model.weight.device.type == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda(rng):
    x, y = sum_task(rng)
    model = LastStep()
    h = fit(model, (x, y), (x, y), config=TrainConfig(steps=30, eval_every=10, device="cuda",
                                                      progress=False))
    assert next(model.parameters()).device.type == "cuda"
    assert h.device.startswith("cuda")
    assert all(math.isfinite(v) for v in h.train_loss + h.val_loss)


# ----------------------------------------------------------------------------- history

def test_history_to_dict_is_json_and_round_trips(rng):
    x, y = linear_data(rng)
    h = fit(nn.Linear(3, 1), (x, y), (x, y), config=TrainConfig(steps=4, eval_every=2, **CPU),
            metrics=["mae"])
    d = json.loads(json.dumps(h.to_dict()))
    h2 = History.from_dict(d)
    assert h2.train_loss == h.train_loss and h2.val_metrics == h.val_metrics
    assert h2.best_val == h.best_val == min(h.val_loss)
    assert "History(steps=4" in repr(h)


def test_history_best_val_without_val():
    assert History().best_val is None


# ----------------------------------------------------------------------------- checkpoints

def test_checkpoint_round_trip(tmp_path, rng):
    torch.manual_seed(0)
    x, y = sum_task(rng)
    model = LastStep()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    cfg = TrainConfig(steps=5, eval_every=5, **CPU)
    h = fit(model, (x, y), (x, y), config=cfg, optimizer=opt)
    path = save_checkpoint(tmp_path / "sub" / "run.pt", model, opt, h, cfg,
                           extra={"kind": "lstm", "H": 8})
    torch.manual_seed(1)
    model2 = LastStep()
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    ckpt = load_checkpoint(path, model2, opt2)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), model2.state_dict().items(),
                                strict=True):
        assert k == k2
        torch.testing.assert_close(v, v2)
    assert opt2.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    torch.testing.assert_close(opt2.state_dict()["state"][0]["exp_avg"],
                               opt.state_dict()["state"][0]["exp_avg"])
    assert isinstance(ckpt["history"], History) and ckpt["history"].train_loss == h.train_loss
    assert ckpt["config"] == cfg
    assert ckpt["extra"] == {"kind": "lstm", "H": 8}


_SIDE_EFFECTS: list[str] = []


def _payload(tag):  # what a malicious pickle would run while loading
    _SIDE_EFFECTS.append(tag)
    return {}


class _Malicious:
    def __reduce__(self):
        return (_payload, ("ran code",))


def test_checkpoint_loading_refuses_code(tmp_path):
    model = nn.Linear(3, 1)
    path = tmp_path / "evil.pt"
    torch.save({"format": "lstm_lib.checkpoint/1", "model": model.state_dict(),
                "extra": _Malicious()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_checkpoint(path, model)
    assert _SIDE_EFFECTS == []
    # ... whereas a plain pickle load would have run it:
    torch.load(path, weights_only=False)
    assert _SIDE_EFFECTS == ["ran code"]
    _SIDE_EFFECTS.clear()


def test_checkpoint_refuses_to_save_objects(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['extra'\]\['obj'\] is a _Malicious"):
        save_checkpoint(tmp_path / "x.pt", nn.Linear(3, 1), extra={"obj": _Malicious()})
    assert not (tmp_path / "x.pt").exists()


def test_checkpoint_wrong_format(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not an lstm_lib checkpoint"):
        load_checkpoint(path, nn.Linear(3, 1))


# ----------------------------------------------------------------------------- slow

@pytest.mark.slow
def test_lstm_learns_the_adding_problem():
    """A real (short) run: an LSTM beats the memoryless baseline 1/6 on the adding problem."""
    data = pytest.importorskip("lstm_lib.data")
    if not hasattr(data, "adding_problem"):
        from lstm_lib.data import tasks as data
    from lstm_lib.models import SequenceModel

    T = 30
    x_val, y_val = data.adding_problem(500, T, seed=1)

    def batch_fn(step, gen):
        return data.adding_problem(64, T, seed=int(gen.integers(2**31 - 1)))

    torch.manual_seed(0)
    model = SequenceModel("torch-lstm", 2, 32, 1)
    h = fit(model, batch_fn, (x_val, y_val),
            config=TrainConfig(steps=1500, lr=1e-2, eval_every=250, **CPU))
    assert h.best_val < 0.1 * (1 / 6)


def test_progress_bar_can_be_turned_off_by_the_environment(monkeypatch):
    from lstm_lib.train import _progress_bar

    monkeypatch.setenv("LSTM_LIB_PROGRESS", "0")
    assert _progress_bar(10, True) is None
    monkeypatch.delenv("LSTM_LIB_PROGRESS")
    bar = _progress_bar(10, True)
    assert bar is not None
    bar.close()


# ----------------------------------------------------------------------------- stateful

class Recorder(nn.Module):
    """Records the state each call receives; the state is the running sum of x (N, 1, 1)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.seen: list = []

    def forward(self, x, state=None, *, return_state=False):
        self.seen.append(None if state is None else state.clone())
        total = x.sum(1, keepdim=True).float()[None] * self.w     # (1, N, 1)
        new = total if state is None else state + total
        out = new[0].expand(-1, x.shape[1])                       # (N, T)
        return (out, new) if return_state else out


def test_stateful_fit_carries_detached_state_and_restarts_each_pass():
    from lstm_lib.data import bptt_batches

    ids = np.arange(1, 22)
    batches = bptt_batches(ids, 2, 5)                 # rows of 10: two batches per pass
    model = Recorder()
    hist = fit(model, batches, config=TrainConfig(steps=5, **CPU), loss="mse", stateful=True)
    assert len(hist.step) == 5
    assert [s is None for s in model.seen] == [True, False, True, False, True]
    assert torch.equal(model.seen[1].flatten(), torch.tensor([15.0, 65.0]))  # sums of row 1
    assert not model.seen[1].requires_grad            # detached: the truncation


def test_stateful_training_matches_a_hand_written_loop():
    from lstm_lib.data import bptt_batches
    from lstm_lib.models import SequenceModel

    ids = np.random.default_rng(0).integers(0, 5, 400)
    batches = bptt_batches(ids, 4, 10, drop_last=True)

    def make():
        torch.manual_seed(0)
        return SequenceModel("torch-lstm", 3, 6, 5, embedding=5, readout="all")

    model = make()
    fit(model, batches, config=TrainConfig(steps=12, lr=1e-2, clip_norm=0, **CPU), loss="ce",
        stateful=True)
    ref = make()
    opt = torch.optim.Adam(ref.parameters(), lr=1e-2)
    state, it = None, iter(batches)
    for _ in range(12):
        batch = next(it, None)
        if batch is None:
            state, it = None, iter(batches)
            batch = next(it)
        x, y = (torch.from_numpy(a) for a in batch)
        logits, state = ref(x, state, return_state=True)
        state = tuple(s.detach() for s in state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_stateful_evaluate_weights_by_targets():
    from lstm_lib.data import bptt_batches
    from lstm_lib.models import SequenceModel

    torch.manual_seed(0)
    model = SequenceModel("torch-lstm", 3, 4, 5, embedding=5, readout="all")
    ids = np.random.default_rng(1).integers(0, 5, 103)
    stream = evaluate(model, bptt_batches(ids, 2, 7), loss="ce", stateful=True)["loss"]
    x = torch.from_numpy(bptt_batches(ids, 2, 1000).x)
    y = torch.from_numpy(bptt_batches(ids, 2, 1000).y)
    whole = torch.nn.functional.cross_entropy(model(x).reshape(-1, 5), y.reshape(-1)).item()
    assert math.isclose(stream, whole, rel_tol=1e-5)


def test_stateful_rejects_independent_batches_and_callback_runs(rng):
    x, y = sum_task(rng)
    with pytest.raises(ValueError, match="stateful=True needs train"):
        fit(LastStep(), (x, y), config=TrainConfig(steps=2, **CPU), stateful=True)
    with pytest.raises(ValueError, match="stateful=True needs data"):
        evaluate(LastStep(), (x, y), stateful=True)
    seen = []
    fit(LastStep(), (x, y), config=TrainConfig(steps=3, **CPU),
        callback=lambda step, model: seen.append((step, model.training)))
    assert seen == [(1, True), (2, True), (3, True)]
    with pytest.raises(TypeError, match="callback must be callable"):
        fit(LastStep(), (x, y), config=TrainConfig(steps=1, **CPU), callback=3)
