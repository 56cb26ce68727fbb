"""Bad input to the helpers (issue 13): sampling, gradients, plot, widgets, textviz, forecast,
charlm, memory.

A sweep of hostile calls, one per row: each must raise the given exception with a message
naming the argument (README "Bad input"), never return a silent NaN, broadcast, clamp or
truncate, and never fail with a bare numpy/torch error.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lstm_lib import charlm, forecast, gradients, memory, plot, sampling, textviz, widgets
from lstm_lib.data import CharVocab
from lstm_lib.models import SequenceModel
from lstm_lib.reference import make_cell
from lstm_lib.train import History

NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


VOCAB = CharVocab("abcdef ()\n")


def char_model() -> SequenceModel:
    torch.manual_seed(0)
    return SequenceModel("lstm", 4, 8, len(VOCAB), embedding=len(VOCAB), readout="all")


class Diverged(torch.nn.Module):
    """A 'char model' whose logits are NaN (as after a diverged run)."""

    def __init__(self, value=NAN):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.value = value

    def forward(self, x, state=None, return_state=False):
        logits = torch.full((*x.shape, len(VOCAB)), self.value) + self.w
        return (logits, state) if return_state else logits


def history() -> History:
    return History(step=[1, 2, 3], train_loss=[1.0, 0.5, 0.25], val_step=[3], val_loss=[0.3])


def windows(x, y):
    from types import SimpleNamespace

    return SimpleNamespace(x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.float64))


GOOD_X = np.linspace(0, 1, 12).reshape(3, 4, 1)
GOOD_Y = np.ones((3, 1))
U2 = np.array([[0.5, 0.1], [0.0, 0.4]])
ID_TEXT = np.array([1, 2, 3, 1, 2, 3, 4, 5, 6, 1, 2, 3] * 3)

# (id, call, exception, the message must match) -- every call is hostile
CASES = [
    # ------------------------------------------------------------------ sampling
    ("softmax-nan-logits", lambda: sampling.temperature_softmax(torch.tensor([0.0, NAN])),
     ValueError, "logits must not hold NaN"),
    ("softmax-posinf-logits", lambda: sampling.temperature_softmax(torch.tensor([INF, 0.0])),
     ValueError, r"logits must not hold NaN or \+inf"),
    ("softmax-all-neginf-row",
     lambda: sampling.temperature_softmax(torch.tensor([[-INF, -INF], [0.0, 1.0]])),
     ValueError, "every row needs a finite entry"),
    ("softmax-int-logits", lambda: sampling.temperature_softmax(torch.tensor([1, 2])),
     TypeError, "logits must be a floating-point torch.Tensor"),
    ("softmax-list-logits", lambda: sampling.temperature_softmax([1.0, 2.0]),
     TypeError, "logits must be a floating-point"),
    ("softmax-empty-logits", lambda: sampling.temperature_softmax(torch.zeros(0)),
     ValueError, r"logits must have shape \(\.\.\., V\) with V >= 1"),
    ("sample-nan-model", lambda: sampling.sample(Diverged(), VOCAB, "ab", 3),
     ValueError, "the model's logits before character 1 must not hold NaN"),
    ("greedy-nan-model", lambda: sampling.greedy(Diverged(), VOCAB, "ab", 3),
     ValueError, "must not hold NaN"),
    ("greedy-inf-model", lambda: sampling.greedy(Diverged(INF), VOCAB, "ab", 3),
     ValueError, r"\+inf"),
    ("sample-float-seed", lambda: sampling.sample(char_model(), VOCAB, "ab", 3, seed=1.5),
     TypeError, "seed must be an int"),
    ("sample-negative-seed", lambda: sampling.sample(char_model(), VOCAB, "ab", 3, seed=-1),
     ValueError, "seed must be an int >= 0"),
    ("sample-bool-length", lambda: sampling.sample(char_model(), VOCAB, "ab", True),
     ValueError, "length must be an int"),
    ("sample-no-vocab", lambda: sampling.sample(char_model(), "abc", "ab", 3),
     TypeError, "vocab must have encode"),
    ("sample-no-model", lambda: sampling.sample("model", VOCAB, "ab", 3),
     TypeError, "model must be a torch.nn.Module"),
    ("sample-vocab-size-mismatch",
     lambda: sampling.sample(SequenceModel("lstm", 4, 8, 20, embedding=20, readout="all"),
                             VOCAB, "ab", 3),
     ValueError, r"the model has V = 20 outputs but the vocab has \d+ entries"),
    ("recorder-int-at", lambda: sampling.SampleRecorder(VOCAB, "ab", at=5),
     TypeError, "at must be a collection"),
    ("recorder-bool-in-at", lambda: sampling.SampleRecorder(VOCAB, "ab", at=[0, True]),
     ValueError, "at must be a non-empty collection of ints"),
    ("recorder-float-seed", lambda: sampling.SampleRecorder(VOCAB, "ab", at=[0], seed=0.5),
     TypeError, "seed must be an int"),
    # ------------------------------------------------------------------ gradients
    ("spectral-radius-nan", lambda: gradients.spectral_radius([[NAN, 0], [0, 1]]),
     ValueError, "U must be finite"),
    ("spectral-radius-strings", lambda: gradients.spectral_radius([["a", "b"], ["c", "d"]]),
     TypeError, "U must be a square matrix of numbers"),
    ("spectral-radius-not-square", lambda: gradients.spectral_radius(np.ones((2, 3))),
     ValueError, "U must be a square matrix"),
    ("set-radius-nan-rho", lambda: gradients.set_spectral_radius(U2, NAN),
     ValueError, "rho must be a finite number"),
    ("set-radius-bool-rho", lambda: gradients.set_spectral_radius(U2, True),
     ValueError, "rho must be a finite number"),
    ("matrix-norms-nan", lambda: gradients.matrix_norms(np.full((2, 2, 2), NAN)),
     ValueError, "J must be finite"),
    ("matrix-norms-vector", lambda: gradients.matrix_norms(np.ones(3)),
     ValueError, "J must be a stack of matrices"),
    ("matrix-norms-bad-ord", lambda: gradients.matrix_norms(np.ones((2, 2)), ord="nuc"),
     ValueError, "ord must be one of"),
    ("lags-of-zero", lambda: gradients.lags_of(0), ValueError, "T must be an int >= 1"),
    ("lags-of-float", lambda: gradients.lags_of(3.0), TypeError, "T must be an int"),
    ("jacobians-nan-xs",
     lambda: gradients.hidden_jacobians(make_cell("rnn", 1, 2), np.array([[0.0], [NAN]])),
     ValueError, "xs must be finite"),
    ("jacobians-wrong-D",
     lambda: gradients.hidden_jacobians(make_cell("rnn", 2, 2), np.zeros((3, 1, 1))),
     ValueError, r"xs must be \(T, N, D\) or \(T, D\) with T, N >= 1 and D = 2"),
    ("jacobians-nan-h0",
     lambda: gradients.hidden_jacobians(make_cell("rnn", 1, 2), np.zeros((3, 1, 1)),
                                        np.array([[NAN, 0.0]])),
     ValueError, "h0 must be finite"),
    ("jacobians-not-a-cell", lambda: gradients.hidden_jacobians("rnn", np.zeros((3, 1))),
     TypeError, "cell must be a lstm_lib.reference cell"),
    ("cell-state-jacobians-rnn",
     lambda: gradients.cell_state_jacobians(make_cell("rnn", 1, 2), np.zeros((3, 1))),
     ValueError, "cell must have a cell state"),
    ("gate-products-nan", lambda: gradients.gate_products(np.array([0.5, NAN])),
     ValueError, r"gates must be a \(T, \.\.\.\) array .* in \[0, 1\]"),
    ("gate-products-above-1", lambda: gradients.gate_products(np.array([0.5, 1.5])),
     ValueError, r"every entry in \[0, 1\]"),
    ("jacobian-product-bool-t",
     lambda: gradients.rnn_jacobian_product(U2, np.zeros((4, 2)), True, 0),
     TypeError, "t must be an int"),
    ("jacobian-product-k-after-t",
     lambda: gradients.rnn_jacobian_product(U2, np.zeros((4, 2)), 1, 2),
     ValueError, "need integers 0 <= k <= t"),
    ("jacobian-product-nan-hs",
     lambda: gradients.rnn_jacobian_product(U2, np.full((4, 2), NAN), 2, 0),
     ValueError, "hs must be finite"),
    ("rnn-norms-nan-W",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, [[NAN], [0.0]], np.zeros(2),
                                                 np.zeros((3, 1))),
     ValueError, "W must be finite"),
    ("rnn-norms-inf-b",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, np.ones((2, 1)), [INF, 0.0],
                                                 np.zeros((3, 1))),
     ValueError, "b must be finite"),
    ("rnn-norms-b-shape",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, np.ones((2, 1)), np.zeros((2, 1)),
                                                 np.zeros((3, 1))),
     ValueError, r"b must be \(H,\)"),
    ("rnn-norms-nan-xs",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, np.ones((2, 1)), np.zeros(2),
                                                 np.full((3, 1), NAN)),
     ValueError, "xs must be finite"),
    ("rnn-norms-bad-nonlinearity",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, np.ones((2, 1)), np.zeros(2),
                                                 np.zeros((3, 1)), nonlinearity="sigmoid"),
     ValueError, "nonlinearity must be one of"),
    ("rnn-norms-nan-h0",
     lambda: gradients.rnn_hidden_jacobian_norms(U2, np.ones((2, 1)), np.zeros(2),
                                                 np.zeros((3, 1)), h0=[[NAN, 0.0]]),
     ValueError, "h0 must be finite"),
    ("sequence-norms-nan-x",
     lambda: gradients.sequence_gradient_norms(torch.nn.RNN(1, 2), torch.full((3, 1, 1), NAN)),
     ValueError, "x must be finite"),
    ("sequence-norms-not-a-layer",
     lambda: gradients.sequence_gradient_norms(lambda x: x, torch.zeros(3, 1, 1)),
     TypeError, "layer must be a torch.nn.Module"),
    ("sequence-norms-2d-x",
     lambda: gradients.sequence_gradient_norms(torch.nn.RNN(1, 2), torch.zeros(3, 1)),
     ValueError, r"x must be a non-empty \(T, N, D\)"),
    ("sequence-norms-bidirectional",
     lambda: gradients.sequence_gradient_norms(torch.nn.RNN(1, 2, bidirectional=True),
                                               torch.zeros(3, 1, 1)),
     ValueError, "unidirectional"),
    ("random-rnn-zero-H", lambda: gradients.random_rnn(H=0), ValueError, "H must be an int"),
    ("random-rnn-float-D", lambda: gradients.random_rnn(D=1.5), TypeError, "D must be an int"),
    ("random-rnn-nan-scale", lambda: gradients.random_rnn(input_scale=NAN),
     ValueError, "input_scale must be finite"),
    ("random-rnn-inf-rho", lambda: gradients.random_rnn(rho=INF),
     ValueError, "rho must be a finite number"),
    ("plot-jacobians-nan-rho", lambda: gradients.plot_rnn_jacobian_norms([1.0, NAN]),
     ValueError, r"rhos\[1\] must be finite"),
    ("plot-jacobians-string-rho", lambda: gradients.plot_rnn_jacobian_norms(["1"]),
     TypeError, r"rhos\[0\] must be a real number"),
    ("plot-jacobians-empty", lambda: gradients.plot_rnn_jacobian_norms([]),
     ValueError, "rhos must name at least one"),
    ("plot-jacobians-zero-T", lambda: gradients.plot_rnn_jacobian_norms(1.0, T=0),
     ValueError, "T must be an int >= 1"),
    ("plot-jacobians-bool-n_seq", lambda: gradients.plot_rnn_jacobian_norms(1.0, n_seq=True),
     TypeError, "n_seq must be an int"),
    ("plot-jacobians-bound-string", lambda: gradients.plot_rnn_jacobian_norms(1.0, bound="no"),
     TypeError, "bound must be a bool"),
    ("derivative-bound-list", lambda: gradients.derivative_bound(["tanh"]),
     ValueError, "nonlinearity must be one of"),
    # ------------------------------------------------------------------ plot
    ("history-nan-loss",
     lambda: plot.plot_history({"step": [1, 2], "train_loss": [1.0, NAN]}),
     ValueError, r"history\['train_loss'\] must be finite"),
    ("history-missing-keys", lambda: plot.plot_history({"loss": [1.0]}),
     ValueError, r"history lacks \['step', 'train_loss'\]"),
    ("history-not-a-history", lambda: plot.plot_history([1.0, 2.0]),
     TypeError, "history must be a lstm_lib.train.History"),
    ("history-length-mismatch", lambda: plot.plot_history({"step": [1], "train_loss": [1, 2]}),
     ValueError, "must have the same length"),
    ("history-negative-smoothing", lambda: plot.plot_history(history(), smoothing=-0.5),
     ValueError, r"smoothing must be >= 0"),
    ("history-smoothing-1", lambda: plot.plot_history(history(), smoothing=1.0),
     ValueError, r"smoothing must be in \[0, 1\)"),
    ("history-nan-smoothing", lambda: plot.plot_history(history(), smoothing=NAN),
     ValueError, "smoothing must be finite"),
    ("history-nan-baseline", lambda: plot.plot_history(history(), baseline=NAN),
     ValueError, "baseline must be finite"),
    ("history-string-baseline", lambda: plot.plot_history(history(), baseline="0.5"),
     TypeError, "baseline must be a real number"),
    ("history-dict-baseline-inf", lambda: plot.plot_history(history(), baseline={"mean": INF}),
     ValueError, r"baseline\['mean'\] must be finite"),
    ("history-log-string", lambda: plot.plot_history(history(), log="no"),
     TypeError, "log must be a bool"),
    ("history-unknown-metric", lambda: plot.plot_history(history(), metric="accuracy"),
     ValueError, "metric 'accuracy' was not recorded"),
    ("history-bad-ax", lambda: plot.plot_history(history(), ax="left"),
     TypeError, "ax must be a matplotlib Axes"),
    ("gates-nan", lambda: plot.plot_gates({"f": np.full((3, 2), NAN)}),
     ValueError, r"gates\['f'\] must be finite"),
    ("gates-not-a-dict", lambda: plot.plot_gates(np.zeros((3, 2))),
     TypeError, "gates must be a dict"),
    ("gates-4d", lambda: plot.plot_gates({"f": np.zeros((3, 2, 2, 2))}),
     ValueError, r"gates\['f'\] must be \(T, H\)"),
    ("gates-empty-T", lambda: plot.plot_gates({"f": np.zeros((0, 2))}),
     ValueError, "gates need T >= 1"),
    ("gates-colorbar-string", lambda: plot.plot_gates({"f": np.zeros((3, 2))}, colorbar="no"),
     TypeError, "colorbar must be a bool"),
    ("gates-token-count", lambda: plot.plot_gates({"f": np.zeros((3, 2))}, tokens="ab"),
     ValueError, "tokens must have T = 3 entries"),
    ("sequence-nan-truth", lambda: plot.plot_sequence([1.0, NAN, 2.0]),
     ValueError, "truth must be finite"),
    ("sequence-empty-truth", lambda: plot.plot_sequence([]), ValueError, "truth is empty"),
    ("sequence-inf-prediction", lambda: plot.plot_sequence([1.0, 2.0], [1.0, INF]),
     ValueError, r"predictions\['prediction'\] must be finite"),
    ("sequence-prediction-length", lambda: plot.plot_sequence([1.0, 2.0], {"lstm": [1.0]}),
     ValueError, r"predictions\['lstm'\] has 1 values"),
    ("sequence-nan-context", lambda: plot.plot_sequence([1.0, 2.0], context=[NAN]),
     ValueError, "context must be finite"),
    ("sequence-string-persistence", lambda: plot.plot_sequence([1.0, 2.0], persistence="yes"),
     TypeError, "persistence must be an array of numbers"),
    ("sequence-bool-horizon", lambda: plot.plot_sequence([1.0, 2.0], horizon=True),
     TypeError, "horizon must be an int"),
    ("sequence-horizon-too-long",
     lambda: plot.plot_sequence([1.0, 2.0], persistence=True, horizon=2),
     ValueError, r"horizon must be in \[1, T\)"),
    ("sequence-nan-t", lambda: plot.plot_sequence([1.0, 2.0], t=[0.0, NAN]),
     ValueError, "t must be finite"),
    ("norms-nan", lambda: plot.plot_gradient_norms([1, 2], {"rnn": [1.0, NAN]}),
     ValueError, r"norms_by_label\['rnn'\] must be finite"),
    ("norms-inf", lambda: plot.plot_gradient_norms([1, 2], {"rnn": [1.0, INF]}),
     ValueError, r"norms_by_label\['rnn'\] must be finite"),
    ("norms-negative", lambda: plot.plot_gradient_norms([1, 2], {"rnn": [1.0, -1.0]}),
     ValueError, "a norm is >= 0"),
    ("norms-wrong-K", lambda: plot.plot_gradient_norms([1, 2, 3], {"rnn": [1.0, 2.0]}),
     ValueError, r"must end in K = len\(lags\) = 3"),
    ("norms-empty-dict", lambda: plot.plot_gradient_norms([1, 2], {}),
     ValueError, "norms_by_label must be a non-empty dict"),
    ("norms-nan-lags", lambda: plot.plot_gradient_norms([1, NAN], {"rnn": [1.0, 2.0]}),
     ValueError, "lags must be finite"),
    ("norms-band-string", lambda: plot.plot_gradient_norms([1, 2], {"a": [1, 2]}, band="no"),
     TypeError, "band must be a bool"),
    # ------------------------------------------------------------------ widgets
    ("latch-nan-w", lambda: widgets.latch_params(w=NAN), ValueError, "w must be finite"),
    ("latch-string-bias", lambda: widgets.latch_params(bias="5"),
     TypeError, "bias must be a real number"),
    ("trace-missing-U", lambda: widgets.lstm_trace({"W": np.ones((4, 1)), "b": np.zeros(4)},
                                                   [1.0]),
     ValueError, r"params lacks \['U'\]"),
    ("trace-U-shape", lambda: widgets.lstm_trace({**widgets.latch_params(), "U": np.zeros((4, 2))},
                                                 [1.0]),
     ValueError, r"params\['U'\] must be \(4H, H\) = \(4, 1\)"),
    ("trace-b-shape", lambda: widgets.lstm_trace({**widgets.latch_params(), "b": np.zeros(3)},
                                                 [1.0]),
     ValueError, r"params\['b'\] must be \(4H,\)"),
    ("trace-nan-b", lambda: widgets.lstm_trace({**widgets.latch_params(), "b": [NAN, 0, 0, 0]},
                                               [1.0]),
     ValueError, r"params\['b'\] must be finite"),
    ("trace-nan-xs", lambda: widgets.lstm_trace(widgets.latch_params(), [1.0, NAN]),
     ValueError, "xs must be finite"),
    ("trace-params-list", lambda: widgets.lstm_trace([1, 2, 3], [1.0]),
     TypeError, "params must be a dict"),
    ("trace-empty-xs", lambda: widgets.lstm_trace(widgets.latch_params(), []),
     ValueError, r"xs must be \(T,\) or \(T, D\) with T >= 1"),
    ("parse-nan", lambda: widgets._parse_sequence("1 nan 0", 1),
     ValueError, "x_1..x_T must be finite numbers"),
    ("parse-words", lambda: widgets._parse_sequence("1 two 3", 1),
     ValueError, "x_1..x_T must be numbers separated by spaces"),
    # ------------------------------------------------------------------ textviz
    ("correlations-nan-states",
     lambda: textviz.correlations(np.full((4, 2), NAN), np.arange(4.0)),
     ValueError, "states must be finite"),
    ("correlations-inf-indicator",
     lambda: textviz.correlations(np.ones((4, 2)), [0.0, 1.0, INF, 0.0]),
     ValueError, "indicator must be finite"),
    ("correlations-constant", lambda: textviz.correlations(np.ones((4, 2)), np.ones(4)),
     ValueError, "indicator is constant"),
    ("char-r-negative-ids", lambda: textviz.current_char_r([0, -1, 2], [0.0, 1.0, 0.0]),
     ValueError, r"ids must lie in >= 0"),
    ("char-r-float-ids", lambda: textviz.current_char_r([0.5, 1.0, 2.0], [0.0, 1.0, 0.0]),
     TypeError, "ids must be integer ids"),
    ("char-r-constant", lambda: textviz.current_char_r([0, 1, 2], [1.0, 1.0, 1.0]),
     ValueError, "indicator is constant"),
    ("char-r-nan-indicator", lambda: textviz.current_char_r([0, 1, 2], [0.0, NAN, 1.0]),
     ValueError, "indicator must be finite"),
    ("passage-zero-lines", lambda: textviz.pick_passage("a\nb\nc", {"x": np.zeros(5)}, 0),
     ValueError, "n_lines must be an int >= 1"),
    ("passage-indicator-length", lambda: textviz.pick_passage("a\nb\nc", {"x": np.zeros(4)}, 1),
     ValueError, r"indicators\['x'\] must have one value per character"),
    ("passage-text-bytes", lambda: textviz.pick_passage(b"a\nb", {"x": np.zeros(3)}, 1),
     TypeError, "text must be a str"),
    ("colored-nan", lambda: textviz.draw_colored_text("ab", [0.0, NAN]),
     ValueError, "values must be finite"),
    ("colored-length", lambda: textviz.draw_colored_text("ab", [0.0]),
     ValueError, "values must have one entry per character"),
    ("colored-fontsize", lambda: textviz.draw_colored_text("ab", [0.0, 1.0], fontsize=0),
     ValueError, "fontsize must be > 0"),
    ("scanner-bytes", lambda: textviz.python_indicators(b"x = 1"), TypeError, "text must be"),
    # ------------------------------------------------------------------ forecast
    ("mae-nan", lambda: forecast.mae([1.0, NAN], [1.0, 2.0]),
     ValueError, "prediction must be finite"),
    ("mae-inf-truth", lambda: forecast.mae([1.0, 2.0], [INF, 2.0]),
     ValueError, "truth must be finite"),
    ("mae-empty", lambda: forecast.mae([], []), ValueError, "the MAE of nothing"),
    ("mae-shape", lambda: forecast.mae([1.0, 2.0], [[1.0, 2.0]]),
     ValueError, "must have the same shape"),
    ("pose-nan-scale", lambda: forecast.Pose("change", scale=NAN),
     ValueError, "scale must be finite"),
    ("pose-bool-scale", lambda: forecast.Pose("change", scale=True),
     TypeError, "scale must be a real number"),
    ("pose-string-scale", lambda: forecast.Pose("change", scale="1"),
     TypeError, "scale must be a real number"),
    ("pose-zero-scale", lambda: forecast.Pose("change", scale=0.0),
     ValueError, "scale must be > 0"),
    ("pose-int-lags", lambda: forecast.Pose("change", lags=24),
     TypeError, "lags must be a tuple of ints"),
    ("pose-bool-lag", lambda: forecast.Pose("change", lags=(True,)),
     ValueError, "lags must be ints >= 1"),
    ("pose-target", lambda: forecast.Pose("level"), ValueError, "target must be one of"),
    ("pairs-nan-x",
     lambda: forecast.Pose("value").pairs(windows(np.full((3, 4, 1), NAN), GOOD_Y)),
     ValueError, "windows.x must be finite"),
    ("pairs-nan-y", lambda: forecast.Pose("value").pairs(windows(GOOD_X, [[NAN], [1], [2]])),
     ValueError, "windows.y must be finite"),
    ("pairs-y-rows", lambda: forecast.Pose("value").pairs(windows(GOOD_X, np.ones((2, 1)))),
     ValueError, r"windows.y must be \(N, horizon\) with N = 3"),
    ("pairs-x-D", lambda: forecast.Pose("value").pairs(windows(np.ones((3, 4, 2)), GOOD_Y)),
     ValueError, r"windows.x must be \(N, T, 1\)"),
    ("pairs-no-windows", lambda: forecast.Pose("value").pairs((GOOD_X, GOOD_Y)),
     TypeError, "windows must have .x"),
    ("forecast-output-shape",
     lambda: forecast.Pose("value").forecast(np.ones((2, 1)), windows(GOOD_X, GOOD_Y)),
     ValueError, r"output must be \(N, 1\) = \(3, 1\)"),
    ("forecast-nan-output",
     lambda: forecast.Pose("value").forecast(np.full((3, 1), NAN), windows(GOOD_X, GOOD_Y)),
     ValueError, "output must be finite"),
    ("change-scale-nan", lambda: forecast.change_scale(windows(np.full((3, 4, 1), NAN), GOOD_Y)),
     ValueError, "windows.x must be finite"),
    ("fit-forecast-pose", lambda: forecast.fit_and_forecast("m", char_model, None, "change"),
     TypeError, "pose must be a Pose"),
    ("fit-forecast-data", lambda: forecast.fit_and_forecast("m", char_model, None,
                                                            forecast.Pose("value")),
     TypeError, "data must be a ForecastingData"),
    # ------------------------------------------------------------------ charlm
    ("unigram-negative-ids", lambda: charlm.unigram_bpc(np.array([0, -1, 2]), ID_TEXT, 10),
     ValueError, "train_ids must hold ids >= 0"),
    ("unigram-ids-above-V", lambda: charlm.unigram_bpc(ID_TEXT, np.array([0, 11]), 10),
     ValueError, r"ids must lie in \[0, V\) = \[0, 10\)"),
    ("unigram-bool-V", lambda: charlm.unigram_bpc(ID_TEXT, ID_TEXT, True),
     ValueError, "V must be a positive int"),
    ("bigram-float-ids", lambda: charlm.bigram_bpc(ID_TEXT * 1.0, ID_TEXT, 10),
     ValueError, "train_ids must be a 1-D integer id array"),
    ("windows-bool-n", lambda: charlm.random_windows(ID_TEXT, True, 4),
     TypeError, "n must be an int"),
    ("windows-zero-window", lambda: charlm.random_windows(ID_TEXT, 2, 0),
     ValueError, "window must be an int >= 1"),
    ("by-position-zero-stride",
     lambda: charlm.bits_by_position(char_model(), ID_TEXT, window=4, stride=0),
     ValueError, "stride must be an int >= 1"),
    ("record-gates-zero-rows", lambda: charlm.record_gates(char_model(), ID_TEXT, rows=0),
     ValueError, "rows must be an int >= 1"),
    ("bits-per-char-float-rows", lambda: charlm.bits_per_char(char_model(), ID_TEXT, rows=2.0),
     TypeError, "rows must be an int"),
    ("bits-per-char-ids-above-V",
     lambda: charlm.bits_per_char(char_model(), np.array([1, 2, 50, 3] * 4), rows=2),
     ValueError, r"token ids in \[0, V\)"),
    ("bits-per-char-not-a-model", lambda: charlm.bits_per_char("lstm", ID_TEXT),
     TypeError, "model must be a torch.nn.Module"),
    ("validation-logits-zero-window",
     lambda: charlm.validation_logits(char_model(), ID_TEXT, window=0),
     ValueError, "window must be an int >= 1"),
    ("text-bpc-bytes", lambda: charlm.text_bpc(char_model(), VOCAB, b"ab", "cd"),
     TypeError, "prime and text must be str"),
    ("train-carry-string",
     lambda: charlm.train_char_model(char_model(), ID_TEXT, window=4, batch_size=2, steps=1,
                                     lr=1e-2, carry="no"),
     TypeError, "carry must be a bool"),
    ("held-out-float", lambda: charlm.held_out_text(None, 2.5),
     TypeError, "n_chars must be an int"),
    ("held-out-corpus", lambda: charlm.held_out_text("corpus", 10),
     TypeError, "corpus must be a PythonCorpus"),
    ("char-model-float-seed", lambda: charlm.char_model(10, seed=0.5),
     TypeError, "seed must be an int"),
    # ------------------------------------------------------------------ memory
    ("state-difference-nan-rho", lambda: memory.state_difference(NAN, T=3, N=2, H=2),
     ValueError, "rho must be a finite number"),
    ("state-difference-zero-H", lambda: memory.state_difference(1.0, T=3, N=2, H=0),
     ValueError, "H must be an int >= 1"),
    ("state-difference-bool-T", lambda: memory.state_difference(1.0, T=True),
     ValueError, "T must be an int >= 1"),
    ("echo-accuracy-k-too-long", lambda: memory.echo_accuracy(char_model(), 5, T=5, n=2),
     ValueError, "k must be < T"),
    ("echo-accuracy-not-a-model", lambda: memory.echo_accuracy("rnn", 2),
     TypeError, "model must be a torch.nn.Module"),
    ("train-echo-k-too-long", lambda: memory.train_echo(10, T=10, steps=1),
     ValueError, "k must be < T"),
    ("truncated-nan-lr", lambda: memory.train_echo_truncated(None, lr=NAN, steps=1),
     ValueError, "lr must be a finite number"),
    ("truncated-zero-lr", lambda: memory.train_echo_truncated(None, lr=0.0, steps=1),
     ValueError, "lr must be > 0"),
    ("truncated-lag-too-long", lambda: memory.train_echo_truncated(2, lag=30, T=30, steps=1),
     ValueError, "lag must be < T"),
]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_call_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# ----------------------------------------------------------------------------- explorers

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rho": 5.0}, ValueError, r"rho must be <= 3.0"),       # the slider would clamp to 3
    ({"rho": 0.0}, ValueError, r"rho must be >= 0.1"),
    ({"rho": NAN}, ValueError, "rho must be finite"),
    ({"T": 1000}, ValueError, "T must be an int <= 200"),
    ({"H": 1}, ValueError, "H must be an int >= 2"),
    ({"H": 8.0}, TypeError, "H must be an int"),
    ({"nonlinearity": "sigmoid"}, ValueError, "nonlinearity must be one of"),
])
def test_gradient_norm_explorer_refuses_values_its_controls_would_clamp(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.gradient_norm_explorer(**kwargs)


@pytest.mark.parametrize("params, xs, error, match", [
    ({"W": np.ones((4, 2)), "U": np.zeros((4, 1)), "b": np.zeros(4)}, None, ValueError,
     "the gate explorer takes D = 1 cells"),
    (None, [0.0, NAN], ValueError, "xs must be finite"),
    (None, [], ValueError, "xs must hold at least one step"),
    ({"W": np.ones((4, 1))}, None, ValueError, r"params lacks \['U', 'b'\]"),
])
def test_gate_explorer_checks_params_and_xs(params, xs, error, match):
    with pytest.raises(error, match=match):
        widgets.gate_explorer(params, xs)


def test_gate_explorer_shows_a_message_for_a_nan_typed_in_the_box():
    ex = widgets.gate_explorer()
    draws = ex.redraws
    ex.controls["xs"].value = "0 1 nan"
    assert "finite" in ex.error and ex.redraws == draws  # nothing drawn from NaN
    ex.controls["xs"].value = "0 1 0"
    assert ex.error == "" and ex.redraws == draws + 1


@pytest.mark.parametrize("call, match", [
    (lambda: plot.plot_sequence(np.zeros((3, 2))), r"truth must be one series \(T,\)"),
    (lambda: plot.plot_sequence(np.zeros(3), np.zeros((3, 2))), "predictions"),
    (lambda: plot.plot_sequence(np.zeros(3), context=np.zeros((2, 2))), "context must be one"),
    (lambda: gradients.pascanu_bound(U2).bound([1.0, NAN]), "lags must be finite"),
    (lambda: gradients.pascanu_bound(U2).bound([-1]), "lags must be >= 0"),
    (lambda: charlm.char_model(0), "V must be an int >= 1"),
])
def test_silent_flattening_and_nan_bounds_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_column_series_is_still_drawn():
    ax = plot.plot_sequence(np.arange(4.0)[:, None], {"lstm": np.arange(4.0)[None]})
    assert len(ax.lines) == 2


@pytest.mark.parametrize("kind", [["lstm"], None])
def test_unhashable_or_missing_kind_is_named(kind):
    with pytest.raises(ValueError, match="kind must be one of"):
        SequenceModel(kind, 2, 4, 1)


def test_dense_baseline_hidden_sizes_must_be_a_sequence():
    from lstm_lib.models import DenseBaseline

    with pytest.raises(TypeError, match="hidden_sizes must be a sequence"):
        DenseBaseline(5, 1, 1, hidden_sizes=8)


def test_an_overflowing_jacobian_product_has_norm_inf_not_an_error():
    """The explorer's own overflow is a result (the gradient exploded), not bad input."""
    p = gradients.random_rnn(8, 1, 3.0)
    norms = gradients.rnn_hidden_jacobian_norms(40 * p["U"], p["W"], p["b"], np.zeros((300, 1)),
                                                nonlinearity="identity")
    assert np.isinf(norms[0]) and np.all(np.isfinite(norms[-10:]))
    assert np.all(np.diff(norms[np.isfinite(norms)]) < 0)  # shorter lags, smaller norms
