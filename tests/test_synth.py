"""Tests of the synthetic event generator (capplan.synth).

Each statistical check compares the simulation with an independent truth
(a moment, a quantile, the M/G/∞ mean) and states its tolerance in
standard errors; seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from capplan.data import schema
from capplan.synth import (
    EventParams,
    event_seed,
    events_frame,
    expected_arrivals,
    generate_history,
    sample_events,
    simulate_event,
    write_sample,
)

START = pd.Timestamp("2026-03-01 18:00", tz="UTC")
SMALL = EventParams(
    audience=3_000, duration_s=1_200, background_rate_per_s=0.5, session_median_s=600
)


def short(params=SMALL, **kwargs):
    kwargs.setdefault("before_s", 900)
    kwargs.setdefault("after_s", 300)
    kwargs.setdefault("burn_in_s", 600)
    kwargs.setdefault("seed", 7)
    return simulate_event(params, START, **kwargs)


def assert_conserved(series: pd.DataFrame, capacity=None):
    counts = series[["joins", "leaves", "concurrent", "join_errors", "requests"]]
    assert (counts.dtypes == np.int64).all()
    assert (counts >= 0).all().all()
    step = series["concurrent"].diff().iloc[1:]
    np.testing.assert_array_equal(step, (series["joins"] - series["leaves"]).iloc[1:])
    np.testing.assert_array_equal(series["requests"], series["joins"] + series["join_errors"])
    if capacity is None:
        assert (series["join_errors"] == 0).all()
    else:
        assert series["joins"].max() <= math.floor(capacity)


# --- shape of the output -------------------------------------------------------------


def test_columns_window_and_timestamps():
    s = short()
    assert list(s.columns) == [
        "timestamp",
        "joins",
        "leaves",
        "concurrent",
        "join_errors",
        "requests",
    ]
    assert str(s["timestamp"].dt.tz) == "UTC"
    assert s["timestamp"].iloc[0] == START - pd.Timedelta(seconds=900)
    end = START + pd.Timedelta(seconds=SMALL.start_delay_s + SMALL.duration_s)
    assert s["timestamp"].iloc[-1] == end + pd.Timedelta(seconds=299)
    assert (s["timestamp"].diff().iloc[1:] == pd.Timedelta(seconds=1)).all()
    # Burn-in: the background is already there when the window opens.
    assert s["concurrent"].iloc[0] > 0


def test_interval_aggregates_the_same_seconds():
    # A window that is a whole number of minutes: the same per-second simulation.
    p = replace(SMALL, duration_s=1_200)
    per_second = short(p, before_s=900, after_s=300)
    per_minute = short(p, before_s=900, after_s=300, interval_s=60)
    minute = per_second["timestamp"].dt.floor("60s")
    sums = per_second.groupby(minute)[["joins", "leaves", "join_errors", "requests"]].sum()
    last = per_second.groupby(minute)["concurrent"].last()
    np.testing.assert_array_equal(per_minute[sums.columns], sums)
    np.testing.assert_array_equal(per_minute["concurrent"], last)
    np.testing.assert_array_equal(per_minute["timestamp"], sums.index)


def test_same_seed_same_frame_other_seed_other_frame():
    pd.testing.assert_frame_equal(short(seed=3), short(seed=3))
    generator_a, generator_b = np.random.default_rng(11), np.random.default_rng(11)
    pd.testing.assert_frame_equal(short(seed=generator_a), short(seed=generator_b))
    assert not short(seed=3)["joins"].equals(short(seed=4)["joins"])


# --- conservation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        SMALL,
        replace(SMALL, start_delay_s=700.0, lobby_patience_s=300.0),
        replace(SMALL, join_capacity_per_s=20.0, flood_rise_s=2.0, flood_decay_s=30.0),
        replace(SMALL, join_capacity_per_s=20.0, flood_rise_s=2.0, flood_decay_s=30.0, max_tries=1),
        replace(SMALL, background_rate_per_s=0.0, overdispersion_alpha=0.0),
    ],
    ids=["on-time", "late", "limited", "limited-no-retry", "no-background"],
)
def test_conservation(params):
    assert_conserved(short(params), params.join_capacity_per_s)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    audience=st.floats(0, 5_000),
    background=st.floats(0, 3),
    delay=st.floats(0, 900),
    capacity=st.one_of(st.none(), st.floats(1, 50)),
    tries=st.integers(1, 5),
    alpha=st.floats(0, 0.1),
    sigma=st.floats(0, 1.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_conservation_property(audience, background, delay, capacity, tries, alpha, sigma, seed):
    p = EventParams(
        audience=audience,
        duration_s=600,
        background_rate_per_s=background,
        start_delay_s=delay,
        join_capacity_per_s=capacity,
        max_tries=tries,
        overdispersion_alpha=alpha,
        session_sigma=sigma,
        session_median_s=300,
        lobby_scale_s=120,
        lobby_patience_s=200,
    )
    assert_conserved(short(p, before_s=300, after_s=120, burn_in_s=300, seed=seed), capacity)


# --- the join path -----------------------------------------------------------------------


def test_limited_path_fails_and_retries_add_requests():
    base = replace(
        SMALL,
        audience=20_000,
        flood_rise_s=3.0,
        flood_decay_s=60.0,
        join_capacity_per_s=50.0,
        retry_probability=0.0,
    )
    no_retry = short(base)
    retry = short(replace(base, retry_probability=0.9, max_tries=5))
    assert no_retry["join_errors"].sum() > 1_000
    # First tries are drawn before the join path, from the same seed: identical.
    # Without retries the attempts are exactly the first tries; retries add to them.
    first_tries = no_retry["requests"].sum()
    assert retry["requests"].sum() > first_tries + 1_000
    assert retry["joins"].sum() > no_retry["joins"].sum()
    # Overload is where the first tries exceed the capacity: the flood, not the lobby.
    errors_at = retry.loc[retry["join_errors"] > 0, "timestamp"]
    assert errors_at.min() >= START


# --- statistics against independent truth ------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.04])
def test_overdispersion_matches_alpha(alpha):
    """Method of moments on a long constant-rate stretch: alpha_hat = (s**2 - m) / m**2."""
    rate = 200.0
    p = EventParams(
        audience=0, duration_s=60, background_rate_per_s=rate, overdispersion_alpha=alpha
    )
    joins = simulate_event(p, START, before_s=40_000, after_s=0, burn_in_s=0, seed=5)["joins"]
    x = joins.to_numpy(dtype=float)
    n, m, s2 = len(x), x.mean(), x.var(ddof=1)
    alpha_hat = (s2 - m) / m**2
    # Standard error of s² for a near-normal count: σ² sqrt(2 / n); of m is negligible.
    variance = rate + alpha * rate**2
    standard_error = variance * math.sqrt(2 / n) / rate**2
    assert abs(alpha_hat - alpha) < 4 * standard_error, (alpha_hat, alpha, standard_error)
    assert abs(m - rate) < 5 * math.sqrt(variance / n)


def test_session_median_and_sigma_recovered_from_a_single_cohort():
    """All listeners join within a second or two of the start; their leaves,
    counted per second, are the session distribution."""
    median, sigma, n = 1_200.0, 1.0, 200_000
    p = EventParams(
        audience=n,
        duration_s=200_000,
        background_rate_per_s=0,
        lobby_share=0,
        late_share=0,
        flood_rise_s=0.1,
        flood_decay_s=0.3,
        session_median_s=median,
        session_sigma=sigma,
        overdispersion_alpha=0,
    )
    s = simulate_event(p, START, before_s=60, after_s=0, burn_in_s=0, seed=9)
    assert s["joins"].sum() == pytest.approx(n, abs=5 * math.sqrt(n))
    since_start = (s["timestamp"] - START).dt.total_seconds().to_numpy()
    left = np.cumsum(s["leaves"].to_numpy()) / s["joins"].sum()

    def quantile(q):
        return since_start[np.searchsorted(left, q)]

    # Standard error of a sample quantile: sqrt(q(1-q)/n) / density at it.
    se_median = math.sqrt(0.25 / n) / stats.lognorm.pdf(median, sigma, scale=median)
    assert abs(quantile(0.5) - median) < 5 * se_median + 3  # + 3 s: join offset, binning
    q25, q75 = quantile(0.25), quantile(0.75)
    sigma_hat = math.log(q75 / q25) / (2 * stats.norm.ppf(0.75))
    assert sigma_hat == pytest.approx(sigma, rel=0.03)


def test_concurrency_matches_the_infinite_server_mean():
    """E N(t) = Σ_s λ_s P(S > t - s) (M_t/G/∞), for a flood with no lobby, no end in sight."""
    median, sigma = 900.0, 1.2
    p = EventParams(
        audience=1e6,
        duration_s=50_000,
        background_rate_per_s=0,
        lobby_share=0,
        late_share=0.2,
        flood_rise_s=20,
        flood_decay_s=200,
        session_median_s=median,
        session_sigma=sigma,
        overdispersion_alpha=0,
    )
    s = simulate_event(p, START, before_s=0, after_s=0, burn_in_s=0, seed=2).iloc[:7_200]
    edges = np.arange(0.0, 50_001.0)
    rate, _ = expected_arrivals(p, edges)
    rate = rate[:7_200]
    # A join in second k arrives uniformly in it; leaving by the end of second t needs
    # S < t + 1 - (k + U): average the survival over U with a midpoint rule.
    lags = np.arange(7_200)[:, None] + 1 - (np.arange(10) + 0.5)[None, :] / 10
    survival = stats.lognorm.sf(np.clip(lags, 1e-9, None), sigma, scale=median).mean(axis=1)
    expected = np.convolve(rate, survival)[:7_200]
    observed = s["concurrent"].to_numpy()
    for t in (60, 300, 600, 1_800, 3_600, 7_000):
        assert observed[t] == pytest.approx(expected[t], rel=0.01), t
    peak = expected.argmax()
    assert abs(observed.argmax() - peak) < 120  # the concurrency peak lags the join peak
    assert peak > s["joins"].to_numpy().argmax()


def test_background_starts_stationary():
    """Background only, Poisson arrivals: N at the window start ~ Poisson(λ E[S])."""
    p = EventParams(
        audience=0,
        duration_s=60,
        background_rate_per_s=5.0,
        overdispersion_alpha=0,
        session_median_s=1_000,
        session_sigma=1.2,
    )
    mean = 5.0 * p.session_mean_s
    starts = [
        simulate_event(p, START, before_s=10, after_s=0, burn_in_s=b, seed=k)["concurrent"].iloc[0]
        for k, b in enumerate([0, 0, 3_600, 3_600])
    ]
    for n in starts:
        assert abs(n - mean) < 5 * math.sqrt(mean)
    long = simulate_event(p, START, before_s=20_000, after_s=0, burn_in_s=0, seed=1)
    halves = np.array_split(long["concurrent"].to_numpy(), 2)
    assert halves[0].mean() == pytest.approx(halves[1].mean(), rel=0.05)


def test_late_event_floods_at_the_actual_start():
    delay = 1_500.0
    p = EventParams(
        audience=50_000,
        duration_s=3_000,
        background_rate_per_s=1,
        start_delay_s=delay,
        flood_rise_s=5,
        flood_decay_s=60,
        lobby_scale_s=300,
        lobby_patience_s=600,
    )
    s = short(p, before_s=1_800, after_s=300).set_index("timestamp")
    actual = START + pd.Timedelta(seconds=delay)
    peak_at = s["joins"].idxmax()
    assert actual <= peak_at <= actual + pd.Timedelta(seconds=60)
    minute = pd.Timedelta(seconds=59)
    assert (
        s.loc[actual : actual + minute, "joins"].sum()
        > 5 * s.loc[START : START + minute, "joins"].sum()
    )
    # Waiting listeners give up while the event is late: concurrency falls before the start.
    assert (
        s.loc[actual - pd.Timedelta(seconds=1), "concurrent"]
        < s.loc[START:actual, "concurrent"].max()
    )


# --- the sample --------------------------------------------------------------------------


def test_sample_plan_follows_its_documented_ranges():
    sampled = sample_events(40, seed=123)
    frame = events_frame(sampled, parameters=True)
    assert list(frame["event_id"]) == [f"ev-{i:03d}" for i in range(1, 41)]
    delay_min = frame["start_delay_s"] / 60
    assert ((delay_min >= 3) & (delay_min <= 45)).sum() == 8
    assert (delay_min[delay_min < 3] <= 1).all()
    assert frame["join_capacity_per_s"].notna().sum() == 10
    assert frame["duration_s"].between(45 * 60, 150 * 60).all()
    assert (frame["scheduled_start"].dt.second == 0).all()
    assert frame["scheduled_start"].dt.year.isin([2025, 2026]).all()
    assert frame["scheduled_start"].is_monotonic_increasing
    assert frame["scheduled_start"].dt.hour.nunique() > 10
    assert frame["overdispersion_alpha"].between(0.005, 0.05).all()
    assert frame["audience"].max() == pytest.approx(1.05e7)
    assert frame["audience"].nlargest(2).iloc[1] <= 0.8 * 1.05e7
    assert frame["name"].is_unique
    # The events table itself carries no generating parameter.
    assert list(events_frame(sampled).columns) == [
        *schema.EVENT_COLUMNS,
        "followers",
        "registrations",
        "notifications_sent",
    ]


def test_signals_drive_the_size_but_not_exactly():
    frame = events_frame(sample_events(40), parameters=True)
    size = np.log(frame["audience"])
    for signal in ("followers", "registrations", "notifications_sent"):
        r = np.corrcoef(np.log(frame[signal]), size)[0, 1]
        assert 0.7 < r < 0.995, (signal, r)


def test_one_event_regenerated_alone():
    seed = 31
    sampled = sample_events(3, seed=seed)
    small = min(range(3), key=lambda i: sampled[i].params.audience)
    alone = simulate_event(
        sampled[small].params,
        sampled[small].scheduled_start,
        before_s=3600,
        after_s=1800,
        seed=event_seed(seed, small),
    )
    spawned = np.random.SeedSequence(seed).spawn(4)[small + 1]
    pd.testing.assert_frame_equal(alone, sampled[small].simulate())
    pd.testing.assert_frame_equal(
        alone, simulate_event(sampled[small].params, sampled[small].scheduled_start, seed=spawned)
    )


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate_event(SMALL, "2026-03-01 18:00", seed=1)
    with pytest.raises(ValueError, match="flood_rise_s"):
        replace(SMALL, flood_rise_s=500.0, flood_decay_s=100.0)
    with pytest.raises(ValueError, match="lobby_share"):
        replace(SMALL, lobby_share=1.5)
    with pytest.raises(ValueError, match="max_tries"):
        replace(SMALL, max_tries=0)
    with pytest.raises(ValueError, match="before_s"):
        short(before_s=-1)
    with pytest.raises(ValueError, match="n_events"):
        sample_events(0)


@pytest.mark.slow
def test_write_sample_is_byte_for_byte_reproducible(tmp_path):
    digests = []
    for folder in ("a", "b"):
        paths = write_sample(tmp_path / folder, n_events=2, seed=4)
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
    events = pd.read_parquet(tmp_path / "a" / "events.parquet")
    series = pd.read_parquet(tmp_path / "a" / "series.parquet")
    assert list(series.columns) == [
        "event_id",
        "timestamp",
        "joins",
        "leaves",
        "concurrent",
        "join_errors",
        "requests",
    ]
    assert str(series["timestamp"].dtype) == "datetime64[us, UTC]"
    assert set(series["event_id"]) == set(events["event_id"])


@pytest.mark.slow
def test_shipped_sample_history():
    events, series = generate_history()
    peaks = series.groupby("event_id")["concurrent"].max()
    assert 8e6 <= peaks.max() <= 1e7
    assert peaks.min() < 2e3
    for _, one in series.groupby("event_id"):
        assert_conserved(
            one.drop(columns="event_id"),
            capacity=None if one["join_errors"].sum() == 0 else one["joins"].max(),
        )
    followers = events.set_index("event_id")["followers"]
    r = np.corrcoef(np.log(followers[peaks.index]), np.log(peaks))[0, 1]
    assert 0.7 < r < 0.995
    limited = series.groupby("event_id")["join_errors"].sum() > 0
    assert 5 <= limited.sum() <= 10


@pytest.mark.slow
def test_shipped_sample_is_regenerated_bit_for_bit(tmp_path):
    """data/sample is what `python -m capplan.synth data/sample` writes: the same bytes
    with the pyarrow that wrote it, the same tables with any other."""
    import pyarrow
    import pyarrow.parquet as pq

    shipped = Path(__file__).resolve().parents[1] / "data" / "sample"
    if not (shipped / "series.parquet").exists():
        pytest.skip("data/sample not generated")
    written_by = pq.ParquetFile(shipped / "series.parquet").metadata.created_by
    same_writer = f"version {pyarrow.__version__}" in written_by
    for path in write_sample(tmp_path):
        if same_writer:
            assert path.read_bytes() == (shipped / path.name).read_bytes(), path.name
        else:  # another pyarrow writes other bytes: the tables must still be identical
            expected = pd.read_parquet(shipped / path.name)
            pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
