"""Nowcast: error against elapsed time, no leakage of the held-out event, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import capplan
from capplan.forecast import fit_nowcast, fit_peak_forecast, nowcast
from capplan.forecast._regression import LogLinear
from capplan.forecast.nowcast import _nowcast_quantiles


@pytest.fixture(scope="module")
def sample():
    return capplan.sample_history()


@pytest.fixture(scope="module")
def sample_forecast(sample):
    return fit_peak_forecast(sample)


@pytest.fixture(scope="module")
def worldcup():
    return capplan.worldcup98_history()


def subset(history, ids, transform=None):
    """A history of the events `ids`, its series optionally transformed."""
    series = history.series[history.series["event_id"].isin(ids)]
    if transform is not None:
        series = transform(series.copy())
    return capplan.load_history(history.events.loc[ids].reset_index(), series)


@pytest.mark.parametrize("target", ["joins", "concurrent"])
def test_nowcast_error_shrinks_from_2_to_20_minutes_on_the_sample(sample, sample_forecast, target):
    nowcaster = fit_nowcast(sample, target=target, forecast=sample_forecast)
    summary = nowcaster.backtest(minutes=(2, 20)).summary()
    error = summary["median_abs_log_error"]
    assert error.loc[20.0] < error.loc[2.0] < error.loc[0.0]  # 0: the pre-event forecast
    assert (summary["n_events"] == 40).all()
    assert (summary["coverage"] >= 0.8).all()


@pytest.mark.filterwarnings("ignore::capplan.forecast.SmallSampleWarning")  # 39 events, 4 features
def test_the_past_events_priors_are_their_forecasts_without_them(worldcup):
    nowcaster = fit_nowcast(worldcup)
    left_out = worldcup.event_ids[7]
    others = [e for e in worldcup.event_ids if e != left_out]
    forecast = fit_peak_forecast(subset(worldcup, others))
    expected = forecast.predict(worldcup).loc[left_out, "peak_requests_per_s"]
    assert nowcaster.priors_[left_out] == pytest.approx(expected, rel=1e-9)


def test_the_backtest_never_sees_the_held_out_events_peak(worldcup):
    """Raise one event's traffic after 90 minutes tenfold: its own held-out nowcast at 5
    minutes must not move (its prior, the fit and the other events' priors exclude it)."""
    event = worldcup.event_ids[3]
    start = worldcup.events.at[event, "actual_start"]

    def inflate(series):
        late = (series["event_id"] == event) & (
            series["timestamp"] >= start + pd.Timedelta("90min")
        )
        series.loc[late, "requests"] *= 10
        return series

    ids = worldcup.event_ids
    before = fit_nowcast(subset(worldcup, ids)).backtest(minutes=[5]).to_frame()
    after = fit_nowcast(subset(worldcup, ids, inflate)).backtest(minutes=[5]).to_frame()
    assert after.loc[(5.0, event), "actual"] == pytest.approx(
        10 * before.loc[(5.0, event), "actual"]
    )
    columns = ["predicted", "lower", "upper"]
    np.testing.assert_allclose(
        after.loc[(5.0, event), columns].to_numpy(dtype=float),
        before.loc[(5.0, event), columns].to_numpy(dtype=float),
        rtol=1e-12,
    )
    other = ids[10]  # another event's nowcast does learn from the changed one
    assert after.loc[(5.0, other), "predicted"] != before.loc[(5.0, other), "predicted"]


def test_a_live_nowcast_with_and_without_prior(sample, sample_forecast):
    nowcaster = fit_nowcast(sample, target="concurrent", forecast=sample_forecast)
    event = sample.event("ev-014")
    live = event["concurrent"].loc[:299]  # the first five minutes
    prior = sample_forecast.predict(sample_forecast.data.loc[["ev-014"]])
    with_prior = nowcaster.predict(live, prior=prior)
    alone = nowcaster.predict(live)
    assert list(with_prior.index) == [300.0]
    for row in (with_prior.iloc[0], alone.iloc[0]):
        seen = row["seen_so_far"]
        assert seen == event["concurrent"].loc[0:299].max()
        assert seen <= row["peak_concurrent_lower"] <= row["peak_concurrent"]
        assert row["peak_concurrent"] <= row["peak_concurrent_upper"]
    assert bool(with_prior["with_prior"].iloc[0]) and not bool(alone["with_prior"].iloc[0])
    one_call = nowcast(sample, live)  # the target from the series' name
    pd.testing.assert_frame_equal(one_call, alone)


def test_truncated_t_interval_is_the_prediction_interval_until_the_peak_so_far_bites():
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(30), rng.normal(size=(30, 1))])
    y = X @ [2.0, 1.0] + rng.normal(0, 0.3, size=30)
    model = LogLinear.fit(X, y, ("const", "a"), "ols")
    x0 = np.array([[1.0, 0.2]])
    _, lower, upper = model.predict(x0, 0.9)
    _, lo, hi = _nowcast_quantiles(model, x0, np.array([1e-6]), 0.9)
    np.testing.assert_allclose([lo[0], hi[0]], np.exp([lower[0], upper[0]]), rtol=1e-9)
    # Seen far above the forecast: the interval starts there and keeps a tail above it.
    seen = np.exp(upper) * 1.5
    _, lo, hi = _nowcast_quantiles(model, x0, seen, 0.9)
    mean, scale, df = model.predictive(x0)
    u = (np.log(seen[0]) - mean[0]) / scale[0]
    expected_hi = mean[0] + scale[0] * stats.t.isf(0.05 * stats.t.sf(u, df), df)
    assert lo[0] >= seen[0] and hi[0] > seen[0] * 1.01
    assert np.log(hi[0]) == pytest.approx(expected_hi, rel=1e-9)


def test_world_cup_nowcast_and_its_chart(worldcup):
    nowcaster = fit_nowcast(worldcup)
    assert nowcaster.target == "requests" and nowcaster.uses_prior
    backtest = nowcaster.backtest(minutes=(2, 20))
    assert set(backtest.summary().index) == {0.0, 2.0, 20.0}
    assert len(backtest.chart().to_dict()["hconcat"]) == 2
    assert "Nowcast of peak_requests_per_s" in str(nowcaster)
    assert list(nowcaster.to_frame().columns[:2]) == [
        "peak_requests_per_s",
        "prior_peak_requests_per_s",
    ]


# -- bad input --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_cup_nowcaster(worldcup):
    return fit_nowcast(worldcup, forecast=False)


def test_a_live_series_that_starts_after_the_event_is_refused(worldcup, world_cup_nowcaster):
    live = worldcup.event(worldcup.event_ids[0])["requests"]
    with pytest.raises(ValueError, match="live starts at 120 s, after the event's actual start"):
        world_cup_nowcaster.predict(live.loc[120:600])
    with pytest.raises(ValueError, match=r"before the actual start.*not started"):
        world_cup_nowcaster.predict(live.loc[:-120])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: s.loc[:600].iloc[::2], "live has 120 s intervals but the history 60 s"),
        (lambda s: s.loc[:600].rename("joins"), "series of joins"),
        (lambda s: s.loc[:600].to_numpy(), "must be a pandas Series"),
        (lambda s: s.loc[:600].drop(index=[120]), "has a gap"),
    ],
)
def test_bad_live_series_are_named(worldcup, world_cup_nowcaster, make, message):
    live = worldcup.event(worldcup.event_ids[0])["requests"]
    with pytest.raises((ValueError, TypeError), match=message):
        world_cup_nowcaster.predict(make(live))


def test_a_prior_needs_a_nowcaster_with_a_forecast(worldcup, world_cup_nowcaster):
    live = worldcup.event(worldcup.event_ids[0])["requests"].loc[:600]
    with pytest.raises(ValueError, match="fitted without a pre-event forecast"):
        world_cup_nowcaster.predict(live, prior=1500.0)
    with pytest.raises(ValueError, match="prior must be a finite number > 0"):
        fit_nowcast(worldcup).predict(live, prior=0.0)
    with pytest.raises(ValueError, match="target 'joins' was not measured"):
        fit_nowcast(worldcup, target="joins")
