"""lstm_lib.forecast: posing windows as values or changes, forecasts, a short training run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lstm_lib import data, forecast
from lstm_lib.models import SequenceModel

pytestmark = pytest.mark.usefixtures("no_network")


def windows(values, lookback=4):
    x, y = data.make_windows(np.asarray(values, dtype=np.float64), lookback)
    return SimpleNamespace(x=x, y=y)


def test_value_pose_is_identity():
    w = windows(np.arange(10.0))
    x, y = forecast.Pose("value").pairs(w)
    assert x.shape == (6, 4, 1) and y.shape == (6, 1)
    np.testing.assert_array_equal(x.numpy(), w.x)
    np.testing.assert_array_equal(forecast.Pose("value").forecast(y.numpy(), w), w.y[:, 0])


def test_change_pose_inputs_target_and_round_trip(rng):
    w = windows(rng.standard_normal(30).cumsum(), lookback=6)
    pose = forecast.Pose("change", scale=0.5)
    x, y = pose.pairs(w)
    assert x.shape == (24, 6, 1) and y.shape == (24, 1)
    np.testing.assert_allclose(x[:, 0, 0].numpy(), 0)                     # Δx_1 := 0
    np.testing.assert_allclose(x[:, 1:, 0].numpy(), np.diff(w.x[..., 0], axis=1) / 0.5,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[:, 0].numpy(), (w.y[:, 0] - w.x[:, -1, 0]) / 0.5, rtol=1e-5)
    # the true change as output gives back the truth; an output of 0 is persistence
    np.testing.assert_allclose(pose.forecast(y.numpy(), w), w.y[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pose.forecast(np.zeros((24, 1)), w), w.x[:, -1, 0])


def test_change_pose_lag_feature():
    w = windows(np.arange(40.0) ** 2, lookback=30)
    pose = forecast.Pose("change", lags=(24,))
    x, _ = pose.pairs(w)
    assert pose.input_size == 2 and x.shape == (10, 30, 2)
    np.testing.assert_array_equal(x[:, :23, 1].numpy(), 0)                # no change 23 back
    np.testing.assert_array_equal(x[:, 23:, 1].numpy(), x[:, :7, 0].numpy())
    # at the last step, the change from hour T-24 to T-23 (one day before the target's change)
    np.testing.assert_allclose(x[:, -1, 1].numpy(), w.x[:, -24, 0] - w.x[:, -25, 0])


def test_change_scale_and_mae():
    w = windows(np.arange(12.0) * 2)
    assert forecast.change_scale(w) == 0.0
    assert forecast.mae([1.0, 2.0], [2.0, 4.0]) == 1.5
    with pytest.raises(ValueError, match="same shape"):
        forecast.mae([1.0], [1.0, 2.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"target": "level"}, "target must be one of"),
    ({"scale": 0.0}, "scale must be"),
    ({"target": "value", "lags": (24,)}, "lags need target='change'"),
    ({"lags": (0,)}, "lags must be ints >= 1"),
])
def test_pose_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        forecast.Pose(**kwargs)


def test_fit_and_forecast_beats_nothing_and_reports(one_thread):
    d = data.seattle_forecasting_data(lookback=48, stride=24)
    pose = forecast.Pose("change", scale=forecast.change_scale(d.train))
    run = forecast.fit_and_forecast("gru", lambda: SequenceModel("torch-gru", 1, 4, 1), d, pose,
                                    steps=20)
    truth = d.normalizer.inverse(d.test.y[:, 0])
    assert run.forecast.shape == truth.shape
    assert run.test_mae == pytest.approx(forecast.mae(run.forecast, truth))
    assert run.parameters == sum(p.numel() for p in run.model.parameters())
    assert "test MAE" in str(run) and run.unit == "F"
    assert run.kind == "change" and run.summary()["test MAE"] == run.test_mae
    assert forecast.Pose("change", lags=(2,)).target == "change"
    # deterministic for a seed
    again = forecast.fit_and_forecast("gru", lambda: SequenceModel("torch-gru", 1, 4, 1), d,
                                      pose, steps=20)
    np.testing.assert_array_equal(run.forecast, again.forecast)
    with pytest.raises(TypeError, match="must return an nn.Module"):
        forecast.fit_and_forecast("x", lambda: None, d, pose, steps=2)
    assert isinstance(run.model, torch.nn.Module)
