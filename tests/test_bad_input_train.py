"""Bad input to training (issue 13): fit, evaluate, predict, compute_loss, TrainConfig, models.

The policy (README "Bad input"): target dtypes are checked before any conversion; the first
non-finite loss or gradient stops fit *before* its optimizer step and leaves the model as it
was; endless validation data is refused at once; booleans are booleans; every error names the
argument.
"""

from __future__ import annotations

import copy
import itertools
import time

import numpy as np
import pytest
import torch
from torch import nn

from lstm_lib.models import Conv1dLSTM, DenseBaseline, SequenceModel, count_parameters
from lstm_lib.train import (
    MAX_EVAL_BATCHES,
    TrainConfig,
    compute_loss,
    evaluate,
    fit,
    predict,
)

CPU = dict(device="cpu", progress=False)
pytestmark = pytest.mark.usefixtures("one_thread")


def regression(rng, n=32):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]


def classification(rng, n=32, classes=3):
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, rng.integers(0, classes, n)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ----------------------------------------------------------------------------- target dtypes

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_targets_with_ce_are_refused_not_truncated(dtype, rng):
    x, y = classification(rng)
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    before = state(model)
    with pytest.raises(TypeError, match=r"loss='ce' needs integer class targets y.*truncate"):
        fit(model, (x, (y + 0.7).astype(dtype)), config=TrainConfig(steps=2, **CPU), loss="ce")
    assert_same_state(before, state(model))  # refused before any step


def test_float_targets_with_ce_in_a_batch_iterable_are_refused(rng):
    x, y = classification(rng)
    batches = [(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)))]
    with pytest.raises(TypeError, match="integer class targets"):
        fit(nn.Linear(4, 3), batches, config=TrainConfig(steps=1, **CPU), loss="ce")


def test_bool_targets_with_ce_are_refused(rng):
    x, y = classification(rng, classes=2)
    with pytest.raises(TypeError, match="integer class targets"):
        fit(nn.Linear(4, 2), (x, y.astype(bool)), config=TrainConfig(steps=1, **CPU), loss="ce")


def test_float_validation_targets_with_ce_are_refused_before_training(rng):
    x, y = classification(rng)
    model = nn.Linear(4, 3)
    before = state(model)
    with pytest.raises(TypeError, match="integer class targets"):
        fit(model, (x, y), (x, y.astype(np.float64)), config=TrainConfig(steps=2, **CPU),
            loss="ce")
    assert_same_state(before, state(model))


@pytest.mark.parametrize("which", ["x", "y"])
def test_complex_data_is_refused(which, rng):
    x, y = regression(rng)
    data = (x.astype(np.complex64), y) if which == "x" else (x, y.astype(np.complex64))
    with pytest.raises(TypeError, match=f"{which} must be real"):
        fit(nn.Linear(3, 1), data, config=TrainConfig(steps=1, **CPU))


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_ce_targets_out_of_range_name_the_range(bad):
    y = torch.tensor([0, 1, bad])
    with pytest.raises(ValueError, match=r"targets y in \[0, C\) = \[0, 3\).*got "
                                         + str(bad)):
        compute_loss("ce", torch.zeros(3, 3), y)


def test_ce_ignore_index_is_still_accepted():
    loss = compute_loss("ce", torch.zeros(3, 3), torch.tensor([0, -100, 2]))
    assert loss.item() == pytest.approx(np.log(3))


@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_bce_targets_outside_0_1_are_refused(bad):
    with pytest.raises(ValueError, match=r"loss='bce' needs targets y in \[0, 1\]"):
        compute_loss("bce", torch.zeros(2), torch.tensor([0.0, bad]))


# ----------------------------------------------------------------------------- non-finite values

@pytest.mark.parametrize("part, value", [("x", np.nan), ("x", np.inf), ("y", np.nan),
                                         ("y", -np.inf)])
def test_nonfinite_pair_data_is_refused_before_any_step(part, value, rng):
    x, y = regression(rng)
    (x if part == "x" else y)[5, 0] = value
    model = nn.Linear(3, 1)
    before = state(model)
    with pytest.raises(ValueError, match=f"train: {part} must be finite; 1 of"):
        fit(model, (x, y), config=TrainConfig(steps=3, **CPU))
    assert_same_state(before, state(model))


def test_nonfinite_validation_pair_is_refused(rng):
    x, y = regression(rng)
    xv = x.copy()
    xv[0, 0] = np.nan
    with pytest.raises(ValueError, match="val: x must be finite"):
        fit(nn.Linear(3, 1), (x, y), (xv, y), config=TrainConfig(steps=1, **CPU))


def nan_batches(rng, bad_step: int, n_steps: int = 5):
    """A list of regression batches of which batch ``bad_step`` (1-based) holds a NaN."""
    x, y = regression(rng, n=8 * n_steps)
    batches = [(torch.from_numpy(x[8 * k:8 * k + 8]).clone(), torch.from_numpy(y[8 * k:8 * k + 8]))
               for k in range(n_steps)]
    batches[bad_step - 1][0][3, 1] = float("nan")
    return batches


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_nan_at_the_first_step_leaves_the_model_exactly_as_it_was(optimizer, rng):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    before = state(model)
    with pytest.raises(FloatingPointError, match="loss is nan at step 1; stopped before"):
        fit(model, nan_batches(rng, 1), config=TrainConfig(steps=5, optimizer=optimizer, **CPU))
    assert_same_state(before, state(model))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("bad_step", [2, 4])
def test_nan_at_step_k_keeps_the_weights_of_step_k_minus_1(bad_step, rng):
    batches = nan_batches(rng, bad_step)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    twin = copy.deepcopy(model)
    config = TrainConfig(steps=5, **CPU)
    with pytest.raises(FloatingPointError, match=f"at step {bad_step}") as info:
        fit(model, batches, config=config)
    # the same run stopped one step earlier, by design rather than by NaN
    fit(twin, batches[:bad_step - 1], config=config.__class__(**{**config.to_dict(),
                                                                  "steps": bad_step - 1}))
    assert_same_state(state(twin), state(model))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert info.value.history.step == list(range(1, bad_step))
    assert len(info.value.history.train_loss) == bad_step - 1


def test_nan_restores_buffers_changed_by_the_bad_forward(rng):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    before = state(model)
    with pytest.raises(FloatingPointError, match="at step 1"):
        fit(model, nan_batches(rng, 1), config=TrainConfig(steps=3, **CPU))
    assert_same_state(before, state(model))  # running_mean/var would hold NaN otherwise


def test_infinite_gradient_with_a_finite_loss_stops_before_the_step(rng):
    class InfGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a.clone()

        @staticmethod
        def backward(ctx, g):
            return g * float("inf")

    x, y = regression(rng)
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    before = state(model)
    with pytest.raises(FloatingPointError, match="gradient norm is (inf|nan) at step 1"):
        fit(model, (x, y), config=TrainConfig(steps=2, clip_norm=0.0, **CPU),
            loss=lambda out, t: ((InfGrad.apply(out) - t) ** 2).mean())
    assert_same_state(before, state(model))


# ----------------------------------------------------------------------------- endless val data

@pytest.mark.parametrize("make_val", [
    lambda b: itertools.repeat(b),
    lambda b: itertools.cycle([b]),
    lambda b: (b for _ in itertools.count()),
    lambda b: iter([b]),
], ids=["repeat", "cycle", "generator", "iterator"])
def test_fit_refuses_iterator_validation_data_at_once(make_val, rng):
    x, y = regression(rng)
    batch = (torch.from_numpy(x), torch.from_numpy(y))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="val is an iterator"):
        fit(nn.Linear(3, 1), (x, y), make_val(batch), config=TrainConfig(steps=2, **CPU))
    assert time.perf_counter() - t0 < 5


class Unsized:
    """Iterable without a len()."""

    def __init__(self, batch):
        self.batch = batch

    def __iter__(self):
        return itertools.repeat(self.batch)


class Huge:
    def __init__(self, batch):
        self.batch = batch

    def __len__(self):
        return MAX_EVAL_BATCHES + 1

    def __iter__(self):
        return itertools.repeat(self.batch)


def test_fit_refuses_unsized_validation_data(rng):
    x, y = regression(rng)
    with pytest.raises(ValueError, match="has no len"):
        fit(nn.Linear(3, 1), (x, y), Unsized((x, y)), config=TrainConfig(steps=2, **CPU))


def test_fit_refuses_validation_data_longer_than_the_bound(rng):
    x, y = regression(rng)
    with pytest.raises(ValueError, match="more than MAX_EVAL_BATCHES"):
        fit(nn.Linear(3, 1), (x, y), Huge((x, y)), config=TrainConfig(steps=2, **CPU))


def test_fit_refuses_empty_validation_list(rng):
    x, y = regression(rng)
    with pytest.raises(ValueError, match="val has no batches"):
        fit(nn.Linear(3, 1), (x, y), [], config=TrainConfig(steps=2, **CPU))


@pytest.mark.parametrize("val", [5, "val", 1.5])
def test_fit_refuses_validation_data_of_the_wrong_type(val, rng):
    x, y = regression(rng)
    with pytest.raises(TypeError, match="val must be None, a pair"):
        fit(nn.Linear(3, 1), (x, y), val, config=TrainConfig(steps=2, **CPU))


def test_evaluate_stops_endless_data_with_a_clear_error(monkeypatch, rng):
    import lstm_lib.train as train

    monkeypatch.setattr(train, "MAX_EVAL_BATCHES", 50)  # the same code path, a faster test
    x, y = regression(rng, n=4)
    batch = (torch.from_numpy(x), torch.from_numpy(y))
    with pytest.raises(ValueError, match="more than MAX_EVAL_BATCHES = 50 batches: is it endless"):
        evaluate(nn.Linear(3, 1), itertools.repeat(batch))
    with pytest.raises(ValueError, match="has 51 batches, more than MAX_EVAL_BATCHES"):
        evaluate(nn.Linear(3, 1), [batch] * 51)
    assert np.isfinite(evaluate(nn.Linear(3, 1), [batch] * 50)["loss"])


def test_a_list_of_validation_batches_still_works(rng):
    x, y = regression(rng)
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    h = fit(nn.Linear(3, 1), (x, y), batches, config=TrainConfig(steps=4, eval_every=2, **CPU))
    assert h.val_step == [2, 4] and all(np.isfinite(h.val_loss))


# ----------------------------------------------------------------------------- booleans and types

@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None])
def test_progress_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="progress must be a bool"):
        TrainConfig(progress=bad)


@pytest.mark.parametrize("bad", ["no", 1])
def test_stateful_must_be_a_bool(bad, rng):
    x, y = regression(rng)
    with pytest.raises(TypeError, match="stateful must be a bool"):
        fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=1, **CPU), stateful=bad)
    with pytest.raises(TypeError, match="stateful must be a bool"):
        evaluate(nn.Linear(3, 1), (x, y), stateful=bad)


@pytest.mark.parametrize("name, bad", [("lr", True), ("lr", "0.1"), ("clip_norm", "1"),
                                       ("momentum", None)])
def test_config_numbers_must_be_numbers(name, bad):
    with pytest.raises(TypeError, match=f"{name} must be a number"):
        TrainConfig(**{name: bad})


@pytest.mark.parametrize("bad", [5, 1.0, ["cpu"]])
def test_config_device_must_be_a_string(bad):
    with pytest.raises(TypeError, match="device must be a str"):
        TrainConfig(device=bad)


def test_fit_refuses_a_model_that_is_not_a_module(rng):
    x, y = regression(rng)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit(lambda x: x, (x, y), config=TrainConfig(steps=1, **CPU))


def test_fit_refuses_a_loss_that_is_neither_a_name_nor_callable(rng):
    x, y = regression(rng)
    with pytest.raises(TypeError, match="loss must be one of"):
        fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=1, **CPU), loss=3)


@pytest.mark.parametrize("fn", [evaluate, predict])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_batch_size_of_evaluate_and_predict(fn, bad, rng):
    x, y = regression(rng)
    data = (x, y) if fn is evaluate else x
    with pytest.raises((TypeError, ValueError), match="batch_size must be an int"):
        fn(nn.Linear(3, 1), data, batch_size=bad)


def test_predict_refuses_a_scalar_and_a_non_module():
    with pytest.raises(ValueError, match="x must be an array"):
        predict(nn.Linear(3, 1), 3.0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        predict("model", np.zeros((2, 3)))


def test_pair_of_scalars_is_refused():
    with pytest.raises(ValueError, match="train: x and y must be arrays"):
        fit(nn.Linear(3, 1), (np.array(1.0), np.array(2.0)),
            config=TrainConfig(steps=1, **CPU))


# ----------------------------------------------------------------------------- models

@pytest.mark.parametrize("flag", ["bidirectional", "bias"])
@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None])
def test_sequence_model_flags_must_be_bools(flag, bad):
    with pytest.raises(TypeError, match=f"{flag} must be a bool"):
        SequenceModel("lstm", 2, 4, 1, **{flag: bad})


@pytest.mark.parametrize("kind", ["torch-lstm", "gru"])
def test_bias_no_is_refused_for_every_kind(kind):
    with pytest.raises(TypeError, match="bias must be a bool"):
        SequenceModel(kind, 2, 4, 1, bias="no")


@pytest.mark.parametrize("flag", ["return_state", "return_gates"])
def test_forward_flags_must_be_bools(flag):
    model = SequenceModel("lstm", 2, 4, 1)
    with pytest.raises(TypeError, match=f"{flag} must be a bool"):
        model(torch.zeros(1, 3, 2), **{flag: "no"})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, 1.0, "0.1"])
def test_dropout_must_be_a_number_in_0_1(bad):
    with pytest.raises((TypeError, ValueError), match="dropout must be"):
        SequenceModel("lstm", 2, 4, 1, dropout=bad)
    with pytest.raises((TypeError, ValueError), match="dropout must be"):
        DenseBaseline(5, 1, 1, dropout=bad)


@pytest.mark.parametrize("bad", [-1, 10, 100])
def test_token_ids_out_of_range_are_named(bad):
    model = SequenceModel("lstm", 3, 4, 10, embedding=10, readout="all")
    with pytest.raises(ValueError, match=r"token ids in \[0, V\) = \[0, 10\)"):
        model(torch.tensor([[1, 2, bad]]))


@pytest.mark.parametrize("lengths", [[0, 3], [2, 4], [-1, 1]])
def test_lengths_out_of_range_are_refused(lengths):
    model = SequenceModel("lstm", 2, 4, 1)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T\] = \[1, 3\]"):
        model(torch.zeros(2, 3, 2), lengths=torch.tensor(lengths))


def test_float_lengths_are_refused():
    model = SequenceModel("lstm", 2, 4, 1)
    with pytest.raises(TypeError, match="lengths must be integers"):
        model(torch.zeros(2, 3, 2), lengths=torch.tensor([1.5, 3.0]))


def test_lengths_zero_used_to_read_the_last_step_silently():
    """Before the fix, lengths = 0 indexed out[:, -1]: a silent wrong read-out."""
    model = SequenceModel("lstm", 2, 4, 1)
    with pytest.raises(ValueError, match="lengths"):
        model(torch.ones(1, 3, 2), lengths=[0])


@pytest.mark.parametrize("pad_id", [-1, 10, 2.0, True])
def test_pad_id_must_be_an_id_of_the_vocabulary(pad_id):
    with pytest.raises((TypeError, ValueError), match="pad_id must be an int"):
        SequenceModel("lstm", 3, 4, 2, embedding=10, pad_id=pad_id)


def test_forward_refuses_a_non_tensor():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        SequenceModel("lstm", 2, 4, 1)(np.zeros((1, 3, 2), dtype=np.float32))


def test_count_parameters_checks_its_arguments():
    with pytest.raises(TypeError, match="trainable_only must be a bool"):
        count_parameters(nn.Linear(2, 2), trainable_only="no")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters([nn.Linear(2, 2)])


def test_conv1d_lstm_passes_the_flag_checks_on():
    with pytest.raises(TypeError, match="bidirectional must be a bool"):
        Conv1dLSTM(2, 4, 1, bidirectional="yes")


def test_seed_beyond_numpys_range_is_refused_by_the_config():
    with pytest.raises(ValueError, match=r"seed must be < 2\*\*32"):
        TrainConfig(seed=2**32)


def test_scheduler_must_be_a_factory(rng):
    x, y = regression(rng)
    with pytest.raises(TypeError, match="scheduler must be a factory"):
        fit(nn.Linear(3, 1), (x, y), config=TrainConfig(steps=1, **CPU), scheduler="cosine")


@pytest.mark.parametrize("output, y", [(np.zeros(3), torch.zeros(3)),
                                       (torch.zeros(3), [0.0, 0.0, 0.0])])
def test_compute_loss_wants_tensors(output, y):
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        compute_loss("mse", output, y)


def test_make_optimizer_and_history_from_dict_check_their_types():
    from lstm_lib.train import History, make_optimizer

    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        make_optimizer(nn.Linear(2, 2).parameters(), {"lr": 0.1})
    with pytest.raises(TypeError, match=r"d must be a dict \(History.to_dict\(\)\)"):
        History.from_dict([("step", [1])])
