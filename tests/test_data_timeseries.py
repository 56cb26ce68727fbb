"""lstm_lib.data.timeseries: Seattle temperatures offline, windows, splits, baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_lib import data

pytestmark = pytest.mark.usefixtures("no_network")


def test_seattle_temperatures_as_shipped():
    s = data.seattle_temperatures()
    assert isinstance(s, pd.Series) and isinstance(s.index, pd.DatetimeIndex)
    assert s.name == "temp_F" and s.dtype == np.float64
    assert len(s) == 8759 and not s.isna().any()
    assert s.index[0] == pd.Timestamp("2010-01-01 00:00") and s.index[-1] == pd.Timestamp(
        "2010-12-31 23:00")
    steps = s.index.to_series().diff().dropna()
    assert (steps == pd.Timedelta("1h")).sum() == len(s) - 2   # hourly, one hour absent
    assert steps[steps != pd.Timedelta("1h")].index[0] == pd.Timestamp("2010-03-14 04:00")
    assert 30 < s.min() < s.max() < 90                          # plausible °F


def test_seattle_celsius_and_regular_grid():
    f, c = data.seattle_temperatures("F"), data.seattle_temperatures(unit="C")
    assert c.name == "temp_C"
    np.testing.assert_allclose(c.to_numpy(), (f.to_numpy() - 32) * 5 / 9)
    r = data.seattle_temperatures("F", regular=True)
    assert len(r) == 8760 and r.index.freq == "h" and not r.isna().any()
    np.testing.assert_array_equal(r.reindex(f.index).to_numpy(), f.to_numpy())
    filled = r.loc["2010-03-14 03:00"]
    assert filled == pytest.approx((r.loc["2010-03-14 02:00"] + r.loc["2010-03-14 04:00"]) / 2)
    with pytest.raises(ValueError, match="unit must be 'F' or 'C'"):
        data.seattle_temperatures("K")


def test_make_windows_shapes_and_content():
    v = np.arange(20.0)
    x, y = data.make_windows(v, lookback=5, horizon=3, stride=2)
    n = (20 - 5 - 3) // 2 + 1
    assert x.shape == (n, 5, 1) and y.shape == (n, 3)
    assert x.dtype == y.dtype == np.float32
    for i in range(n):
        s = 2 * i
        np.testing.assert_array_equal(x[i, :, 0], v[s: s + 5])
        np.testing.assert_array_equal(y[i], v[s + 5: s + 8])
    x1, y1 = data.make_windows(pd.Series(v), 19, 1)             # exactly one window
    assert x1.shape == (1, 19, 1) and y1[0, 0] == 19.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(lookback=0, horizon=1), "lookback must be >= 1"),
    (dict(lookback=3, horizon=0), "horizon must be >= 1"),
    (dict(lookback=3, horizon=1, stride=0), "stride must be >= 1"),
    (dict(lookback=8, horizon=3), "at least lookback \\+ horizon = 11"),
])
def test_make_windows_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_windows(np.arange(10.0), **kwargs)


def test_split_series_time_order_no_overlap():
    v = np.arange(101.0)
    train, val, test = data.split_series(v)
    assert (len(train), len(val), len(test)) == (70, 15, 16)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), v)
    s = data.seattle_temperatures()
    parts = data.split_series(s, (0.5, 0.25, 0.25))
    assert parts[0].index.max() < parts[1].index.min()
    assert parts[1].index.max() < parts[2].index.min()
    with pytest.raises(ValueError, match="must sum to 1"):
        data.split_series(v, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="three positive numbers"):
        data.split_series(v, (1.0, 0.0, 0.0))


def test_normalizer_round_trip_and_errors(rng):
    a = rng.normal(5.0, 2.0, size=1000)
    norm = data.Normalizer.fit(a)
    z = norm.transform(a)
    assert z.dtype == np.float32 and abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-5
    np.testing.assert_allclose(norm.inverse(z), a, rtol=1e-5)
    with pytest.raises(ValueError, match="non-zero std"):
        data.Normalizer.fit(np.ones(5))


def test_forecasting_data_no_leakage():
    lookback, horizon = 48, 3
    d = data.seattle_forecasting_data(lookback, horizon)
    series = data.seattle_temperatures(regular=True)
    train, val, test = data.split_series(series)
    # the normaliser saw the training part only
    assert d.normalizer.mean == pytest.approx(train.mean())
    assert d.normalizer.std == pytest.approx(train.std(ddof=0))
    assert d.normalizer.mean != pytest.approx(series.mean())
    hour = pd.Timedelta("1h")
    for ws, part in ((d.train, train), (d.val, val), (d.test, test)):
        assert ws.x.shape == (len(part) - lookback - horizon + 1, lookback, 1)
        assert ws.y.shape == (len(ws), horizon) and ws.x.dtype == np.float32
        # every window's inputs and targets lie inside its own part
        first_input = ws.target_times - lookback * hour
        last_target = ws.target_times + (horizon - 1) * hour
        assert first_input.min() >= part.index.min() and last_target.max() <= part.index.max()
        # and the normalised values are the part's values, transformed with train statistics
        raw = d.normalizer.inverse(ws.y[:, 0])
        np.testing.assert_allclose(raw, part.loc[ws.target_times].to_numpy(), atol=1e-4)
    assert d.train.target_times.max() < d.val.target_times.min() - lookback * hour
    assert d.val.target_times.max() < d.test.target_times.min() - lookback * hour


def test_persistence_and_mean_baselines():
    ramp = 2.0 * np.arange(50.0)
    x, y = data.make_windows(ramp, lookback=4, horizon=3)
    assert data.persistence_mae(x, y) == pytest.approx(np.mean([2.0, 4.0, 6.0]))
    assert data.mean_mae(np.array([[1.0], [3.0]]), 2.0) == 1.0
    with pytest.raises(ValueError, match="expected x \\(N, lookback, 1\\)"):
        data.persistence_mae(x[:, :, 0], y)
    f = data.seattle_forecasting_data(120, 1, unit="F")
    c = data.seattle_forecasting_data(120, 1, unit="C")
    p = f.baselines["persistence"]
    # one hour ahead, the temperature barely moves: persistence is within a degree or so,
    # far better than predicting the training mean
    assert 0.2 < p["test"] < 1.5 and 0.2 < p["train"] < 1.5
    for split in ("train", "val", "test"):
        assert p[split] < 0.3 * f.baselines["mean"][split]
        assert c.baselines["persistence"][split] == pytest.approx(p[split] * 5 / 9)
