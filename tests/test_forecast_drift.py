"""Peak forecasts when the season drifts: time-ordered backtests, a drift term, intervals
calibrated on out-of-sample errors in time order, categories and extrapolation."""

import warnings

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.forecast import fit_peak_forecast
from capplan.forecast._backtest import coverage_interval
from capplan.warnings import CapplanWarning, ExtrapolationWarning

START = pd.Timestamp("2026-01-05 19:00", tz="UTC")


def drifting_history(seed, n=45, growth=0.03, noise_growth=0.012, stage=None):
    """One event a day; log peak = 0.9 log audience + growth x day + an error whose s.d.
    grows with the day (0.1 + noise_growth x day): a season drifting away from its start.
    Each event: an hour of quiet before it, then its peak minute."""
    rng = np.random.default_rng(seed)
    days = np.arange(n)
    audience = np.round(10 ** rng.uniform(4, 6, size=n))
    log_peak = 0.9 * np.log(audience) + growth * days + rng.normal(0, 0.1 + noise_growth * days)
    ids = [f"e{i:02d}" for i in range(n)]
    scheduled = [START + pd.Timedelta(days=int(d)) for d in days]
    events = pd.DataFrame(
        {
            "event_id": ids,
            "name": ids,
            "scheduled_start": scheduled,
            "actual_start": scheduled,
            "end": [s + pd.Timedelta(hours=1) for s in scheduled],
            "audience": audience,
            **({} if stage is None else {"stage": stage}),
        }
    )
    rows = []
    for i in range(n):
        for m in range(-60, 1):
            count = 60 if m < 0 else int(max(np.exp(log_peak[i]) * 60, 1))
            rows.append((ids[i], scheduled[i] + pd.Timedelta(minutes=m), count))
    series = pd.DataFrame(rows, columns=["event_id", "timestamp", "requests"])
    return capplan.load_history(events, series)


def covered_next(history, n_fit, **options):
    """Fit on the first `n_fit` events, forecast the rest: the share inside the intervals."""
    past = capplan.load_history(
        history.events.iloc[:n_fit].reset_index(),
        history.series[history.series["event_id"].isin(history.event_ids[:n_fit])],
    )
    fit = fit_peak_forecast(past, signals=["audience"], lead_s=None, level=0.9, **options)
    table = capplan.forecast.event_table(history, lead_s=None).iloc[n_fit:]
    table["scheduled_start"] = history.events["scheduled_start"].iloc[n_fit:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        out = fit.predict(table)
    actual = table["peak_requests_per_s"]
    inside = (out["peak_requests_per_s_lower"] <= actual) & (
        actual <= out["peak_requests_per_s_upper"]
    )
    return inside.to_numpy(), fit


@pytest.mark.slow
def test_intervals_calibrated_in_time_order_reach_their_level_where_leave_one_out_does_not():
    # 30 seasons: fit on 40 events, forecast the next 5. Found (60 seasons): plain OLS (no
    # drift term, exchangeable events) 0.57; the default (drift tested, in for all; the t level
    # calibrated on the time-ordered errors) 0.89.
    plain, default = [], []
    for seed in range(30):
        history = drifting_history(seed)
        plain.append(covered_next(history, 40, method="ols", drift=False)[0])
        default.append(covered_next(history, 40)[0])
    n = 30 * 5
    got_plain, got = np.concatenate(plain).sum(), np.concatenate(default).sum()
    low, high = coverage_interval(int(got), n)
    assert low <= 0.9 <= high, got / n
    assert coverage_interval(int(got_plain), n)[1] < 0.9, got_plain / n  # it undercovers


def test_drift_enters_where_the_history_shows_one():
    # A season growing 3% a day is tested in; one without growth is left out (its t-test at
    # 5%: this seed's p-value is above it).
    grown = fit_peak_forecast(drifting_history(1, growth=0.03, noise_growth=0.0), lead_s=None)
    flat = fit_peak_forecast(drifting_history(1, growth=0.0, noise_growth=0.0), lead_s=None)
    assert grown.designs_["peak_requests_per_s"].drift
    assert not flat.designs_["peak_requests_per_s"].drift
    slope = grown.summary().loc[("peak_requests_per_s", "drift_per_day"), ["lower", "upper"]]
    assert slope["lower"] < 0.03 < slope["upper"]
    never = fit_peak_forecast(drifting_history(1), lead_s=None, drift=False)
    assert "drift_per_day" not in never.designs_["peak_requests_per_s"].terms
    with pytest.raises(ValueError, match="drift must be"):
        fit_peak_forecast(drifting_history(1), drift="yes")


def test_a_category_never_seen_is_an_extrapolation_and_widens_the_interval():
    stage = ["group"] * 30 + ["knockout"] * 15
    history = drifting_history(2, stage=stage)
    fit = fit_peak_forecast(history, lead_s=None, categories=["stage"], drift=False)
    assert "stage=knockout" in fit.designs_["peak_requests_per_s"].terms
    new = fit.data.iloc[[-1, -1]].copy()
    new.index = ["seen", "unseen"]
    new["stage"] = ["knockout", "final"]
    with pytest.warns(ExtrapolationWarning, match="unseen: stage=final"):
        out = fit.predict(new)
    assert out.loc["seen", "outside_history"] == ""
    assert out.loc["unseen", "outside_history"] == "stage=final"
    half = np.log(out["peak_requests_per_s_upper"] / out["peak_requests_per_s"])
    # the unseen level falls back to the baseline's terms; its half-width doubles
    base = new.copy()
    base["stage"] = ["knockout", "group"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        reference = fit.predict(base)
    ref_half = np.log(reference["peak_requests_per_s_upper"] / reference["peak_requests_per_s"])
    assert half["unseen"] == pytest.approx(2 * ref_half.loc["unseen"], rel=1e-9)
    with pytest.raises(ValueError, match="'venue', which is not an attribute"):
        fit_peak_forecast(history, categories=["venue"])


@pytest.fixture(scope="module")
def worldcup_fit():
    return fit_peak_forecast(capplan.worldcup98_history())


def test_world_cup_group_stage_in_time_order_beside_naive(worldcup_fit):
    # Found (rolling origin, 17 matches forecast from those before them): coverage 17/17,
    # median |log error| 0.25 against 0.89 (history median) and 0.28 (most recent match),
    # median width (upper / lower) 6.4; leave one out: 0.925, 0.245, 4.1.
    summary = worldcup_fit.backtest().summary()
    model = summary.loc[("peak_requests_per_s", "model")]
    assert model["n_events"] >= 15
    assert model["coverage"] >= 0.8
    assert model["median_abs_log_error"] <= 0.3
    assert model["skill"] > 0  # beats both naive baselines
    assert model["median_width_ratio"] <= 8
    assert summary.loc[("peak_requests_per_s", "history median"), "median_abs_log_error"] > 0.6
    assert "rolling origin, at least" in worldcup_fit.backtest().scheme
    loo = worldcup_fit.backtest(scheme="loo").summary()
    assert loo.loc[("peak_requests_per_s", "model"), "n_events"] == 40


def test_calibration_by_level_and_its_chart(worldcup_fit):
    from capplan import charts

    table = worldcup_fit.calibration(levels=(0.5, 0.8, 0.9))
    model = table.xs("model", level="forecaster")
    assert list(model["level"]) == [0.5, 0.8, 0.9]
    assert (model["n_events"] >= 15).all()
    assert (model["coverage_low"] <= model["coverage"]).all()
    assert model["median_width_ratio"].is_monotonic_increasing  # a higher level is wider
    spec = charts.calibration_chart(table).to_dict()
    assert spec["title"]["text"].startswith("Calibration")


def test_rolling_points_come_from_earlier_events_only(worldcup_fit):
    # Without the last match in the history, every other match's rolling forecast is the same.
    history = capplan.worldcup98_history()
    keep = list(worldcup_fit.time_order[:-1])
    shorter = capplan.load_history(
        history.events.loc[keep].reset_index(),
        history.series[history.series["event_id"].isin(keep)],
    )
    fit = fit_peak_forecast(shorter)
    full = pd.Series(worldcup_fit._rolling_points("peak_requests_per_s"), worldcup_fit.data.index)
    part = pd.Series(fit._rolling_points("peak_requests_per_s"), fit.data.index)
    assert part.notna().sum() >= 20
    pd.testing.assert_series_equal(part, full.loc[part.index], rtol=1e-12)
    assert np.isnan(full[worldcup_fit.time_order[0]])


@pytest.mark.parametrize(
    "method", ["conformal", "ols", "jackknife+", pytest.param("quantreg", marks=pytest.mark.slow)]
)
def test_no_foreign_warning_escapes_a_forecast(method):
    history = capplan.worldcup98_history()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("default", CapplanWarning)
        fit = fit_peak_forecast(history, method=method, categories=["stage"])
        fit.predict(fit.data.iloc[:5])
        fit.backtest().summary()
        fit.backtest(scheme="loo").summary()
        str(fit)
