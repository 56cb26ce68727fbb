"""lstm_lib.today: the tasks' labels, the models, the runners' tables, and one real contrast."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lstm_lib import today
from lstm_lib.data.bits import IGNORE_INDEX

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_thread")


def test_running_parity_labels_are_the_xor_of_the_prefix():
    x, y = today.running_parity(5, 12, seed=0)
    assert x.shape == (5, 12, 1) and x.dtype == np.float32 and y.dtype == np.int64
    for row in range(5):
        state = 0
        for t in range(12):
            state ^= int(x[row, t, 0])
            assert y[row, t] == state


def test_marked_recall_labels_the_marked_bit_after_the_marker():
    x, y = today.marked_recall(200, 10, seed=1)
    assert x.shape == (200, 10, 2)
    markers = x[..., 1]
    assert (markers.sum(axis=1) == 1).all()
    p = markers.argmax(axis=1)
    assert p.max() < 5 and len(set(p)) > 1                         # first half, varied
    for row in range(200):
        bit = x[row, p[row], 0]
        assert (y[row, :p[row] + 1] == IGNORE_INDEX).all()
        assert (y[row, p[row] + 1:] == bit).all()


def test_tasks_are_seeded_and_reject_bad_arguments():
    np.testing.assert_array_equal(today.running_parity(3, 5, seed=7)[0],
                                  today.running_parity(3, 5, seed=7)[0])
    with pytest.raises(ValueError, match="seq_len must be an int >= 2, got 1"):
        today.marked_recall(3, 1, seed=0)
    with pytest.raises(ValueError, match="task must be one of"):
        today.accuracy(today.Tagger("lstm", 1, 4), "copy", 5)
    with pytest.raises(ValueError, match="name must be one of"):
        today.make_layer("transformer", 1, 4)


@pytest.mark.parametrize("name", today.MODELS + today.SPEED_MODELS)
def test_every_model_tags_every_step(name):
    torch.manual_seed(0)
    model = today.Tagger(name, 2, 4)
    assert model(torch.zeros(3, 7, 2)).shape == (3, 7, 2)


@pytest.mark.parametrize("name, scan", [("mingru", "parallel"), ("mingru-parallel", "parallel"),
                                        ("mingru-sequential", "sequential"),
                                        ("mingru-fused", "fused"), ("minlstm", "parallel")])
def test_the_named_minimal_layers_run_the_named_scan(name, scan):
    layer = today.make_layer(name, 1, 4)
    assert layer.scan == scan and layer.resolved_scan(torch.zeros(2, 3, 1)) == scan


def test_step_times_and_plot():
    df = today.step_times((4, 8), models=("lstm", "slstm"), hidden_size=4, batch_size=2,
                          repeats=1)
    assert list(df.columns) == ["model", "T", "seconds"] and len(df) == 4
    assert (df["seconds"] > 0).all()
    ax = today.plot_speed(df)
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8"]  # the measured lengths
    assert len(ax.xaxis.get_minorticklocs()) == 0


def test_success_table_has_every_model_and_a_constant_baseline():
    df = today.success_table(models=("lstm", "mingru"), train_len=4, test_lens=(4, 8), steps=2,
                             hidden_size=4)
    assert set(df["model"]) == {"lstm", "mingru", "constant"}
    assert len(df) == 2 * 3 * 2
    baseline = df[df["model"] == "constant"]["accuracy"]
    assert ((baseline >= 0.5) & (baseline < 0.6)).all()
    axes = today.plot_success(df)
    assert len(axes) == 2


def test_lstm_tracks_parity_where_mingru_cannot():
    # the chapter's central contrast, at a short length: both train the same way
    lstm = today.train_tagger("lstm", "parity", seq_len=8, steps=120, lr=2e-2, seed=0)
    mingru = today.train_tagger("mingru", "parity", seq_len=8, steps=120, lr=2e-2, seed=0)
    assert today.accuracy(lstm, "parity", 8) > 0.95
    assert today.accuracy(mingru, "parity", 8) < 0.75
    # and the minGRU is no worse at remembering one bit
    recall = today.train_tagger("mingru", "recall", seq_len=8, steps=120, lr=2e-2, seed=0)
    assert today.accuracy(recall, "recall", 8) > 0.9
