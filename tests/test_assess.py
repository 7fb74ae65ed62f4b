"""The risk of the capacity already there, against a direct Monte Carlo over the forecast."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import special

import capplan
from capplan.planning import SLO, ClientPolicy, JoinForecast, JoinService, QueuePolicy, plan_event
from capplan.planning.assess import Capacity, assess, sustainable_rate
from capplan.simulation import NoRetry

SERVICE = JoinService(0.05, scv=2.0)
SESSIONS = ("lognormal", {"median_s": 900.0, "sigma": 1.0})
LEVEL, FACTOR = 0.9, 3.0
SIGMA = np.log(FACTOR) / special.ndtri(LEVEL)  # the peak's log-scale sd, drawn from below
DRAWS = 400_000


def flood(start_s=-600, end_s=3000, peak=2_000.0):
    """A lobby ramp and a flood at 0 decaying over ten minutes (joins per second)."""
    t = np.arange(start_s, end_s, dtype=float)
    lobby = np.where(t < 0, 50.0 * (1 + (t - start_s) / -start_s), 100.0)
    rate = lobby + np.where(t >= 0, peak * np.exp(-t / 600.0), 0.0)
    return pd.Series(rate, index=pd.Index(t))


@pytest.fixture(scope="module")
def forecast():
    return JoinForecast.from_rates(flood(), factor=FACTOR, level=LEVEL)


@pytest.fixture(scope="module")
def z():
    return np.random.default_rng(20250614).standard_normal(DRAWS)


def monte_carlo(point_demand, capacity, z):
    """P(breach) and the excess given a breach, by drawing the peak M = exp(sigma Z)."""
    m = np.exp(SIGMA * z)
    excess = np.max(np.multiply.outer(m, point_demand) - capacity, axis=1)
    broken = excess > 0
    p = broken.mean()
    return p, np.sqrt(p * (1 - p) / z.size), excess[broken]


def test_sustainable_rate_is_the_inverse_of_servers_for():
    workers = np.array([1, 7, 60, 1_000, 50_000])
    slo = SLO(wait_s=2.0, fraction=0.99)
    rate = sustainable_rate(workers, service=SERVICE, slo=slo)
    t = slo.wait_s / ((1 + SERVICE.scv) / 2)  # the plan's Allen-Cunneen reading of the SLO

    def need(r):
        return capplan.servers_for(
            r * SERVICE.mean_s, service_level=(t, 0.99), mean_service_time=0.05
        ).servers

    assert np.all(need(rate) <= workers)
    assert np.all(need(rate * (1 + 1e-6)) > workers)


def test_a_finite_queue_lowers_the_sustainable_rate_to_its_blocking_target():
    slo, client = SLO(wait_s=2.0, fraction=0.99, max_refused=0.001), ClientPolicy(timeout_s=10.0)
    queue = QueuePolicy(kind="fixed", size=2)
    workers = np.array([10, 200])
    rate = sustainable_rate(workers, service=SERVICE, slo=slo, client=client, queue=queue)
    blocking = capplan.mmck(workers, workers + 2, rate * SERVICE.mean_s).blocking
    assert np.all(blocking <= 0.001)
    assert np.all(capplan.mmck(workers, workers + 2, rate * 1.0001 * 0.05).blocking > 0.001)
    assert np.all(rate < sustainable_rate(workers, service=SERVICE, slo=slo))


def test_join_path_breach_and_excess_agree_with_monte_carlo(forecast, z):
    workers = np.where(np.arange(60) < 10, 30, 120)  # thin before the start, more after
    a = assess(forecast, Capacity(workers=workers), service=SERVICE, attack_rps=300.0)
    row = a.summary().loc["join path"]
    frame = a.to_frame().query("scenario == 'point'")
    # Independent: the minute's worst second of the point curve, the attack not scaled.
    demand = forecast.point.reshape(60, 60).max(axis=1)
    capacity = frame["capacity"].to_numpy() - 300.0
    np.testing.assert_allclose(frame["demand"], demand + 300.0)
    np.testing.assert_allclose(
        frame["capacity"], sustainable_rate(workers, service=SERVICE, slo=SLO(2.0, 0.99))
    )
    p, se, excess = monte_carlo(demand, capacity, z)
    assert 0.05 < p < 0.95
    assert abs(row["p_breach"] - p) < 4 * se
    assert abs(row["expected_excess"] - excess.mean()) < 4 * excess.std() / np.sqrt(excess.size)
    assert row["excess_p50"] == pytest.approx(np.median(excess), rel=0.02)
    assert row["excess_p90"] == pytest.approx(np.quantile(excess, 0.9), rel=0.02)
    assert row["holds_to_quantile"] == pytest.approx(1 - row["p_breach"], abs=1e-12)


def test_stream_resources_agree_with_monte_carlo_and_the_weaker_breaks_first(forecast, z):
    servers = np.where(np.arange(60) < 12, 60, 140)  # per interval: servers come late
    a = assess(
        forecast,
        Capacity(stream_servers=servers, streams_per_server=10_000, tested_concurrency=1.6e6),
        sessions=SESSIONS,
    )
    listeners = capplan.concurrency(forecast.to_frame()["point"], SESSIONS, clock_start_s=0.0)
    conc = listeners.frame["mean"].to_numpy()
    twice = capplan.concurrency(2.5 * forecast.to_frame()["point"], SESSIONS, clock_start_s=0.0)
    np.testing.assert_allclose(twice.frame["mean"].to_numpy(), 2.5 * conc, rtol=1e-9)  # linear
    demand = conc.reshape(60, 60).max(axis=1)
    table = a.summary()
    for resource, capacity in (
        ("stream servers", servers * 10_000.0),
        ("tested concurrency", np.full(60, 1.6e6)),
    ):
        row = table.loc[resource]
        p, se, excess = monte_carlo(demand, capacity, z)
        assert 0.02 < p < 0.98, resource
        assert abs(row["p_breach"] - p) < 4 * se, resource
        sem = excess.std() / np.sqrt(excess.size)
        assert abs(row["expected_excess"] - excess.mean()) < 4 * sem, resource
        # First breach on the upper curve (point x FACTOR) where it crosses the capacity.
        over = FACTOR * demand > capacity
        first = -600.0 + 60 * np.argmax(over) if over.any() else np.nan
        assert row["first_breach_upper_s"] == pytest.approx(first, nan_ok=True), resource
        assert row["minutes_in_breach_upper"] == over.sum(), resource
    weaker = table["p_breach"].idxmax()
    assert a.breaks_first == weaker and table.at[weaker, "breaks_first"]
    assert table["breaks_first"].sum() == 1
    assert "breaks first: " + weaker in str(a)
    assert set(a.to_frame()["scenario"]) == {"point", "upper"}


def test_a_plan_brings_its_own_capacity_and_its_chart_draws(forecast):
    plan = plan_event(
        forecast, SESSIONS, service=SERVICE, streams_per_server=20_000, window=(-600, 3000)
    )
    a = assess(plan)
    table = a.summary()
    assert list(table.index) == ["join path", "stream servers"]
    # A plan sized for the upper curve holds it: no breach at the point or the upper.
    assert table["first_breach_upper_s"].isna().all()
    assert (table["holds_to_quantile"] > LEVEL).all()
    more = assess(plan, Capacity.of_plan(plan, tested_concurrency=1e6))
    assert more.breaks_first == "tested concurrency"
    spec = more.chart().to_dict()
    assert len(spec["vconcat"]) == 3


def test_fluid_counts_of_an_overload_agree_with_simulation():
    # 15 workers at 50 ms serve 300/s at most; two minutes at 400/s build a backlog of
    # 12,000 joins that drains at 100/s: clients who wait for ever, no retries.
    t = np.arange(0, 900, dtype=float)
    rate = np.where((t >= 120) & (t < 240), 400.0, 200.0)
    fc = JoinForecast.from_rates(pd.Series(rate, index=pd.Index(t)), factor=1.2)
    common = dict(
        service=JoinService(0.05),
        client=ClientPolicy(timeout_s=None, retry=NoRetry()),
        queue=QueuePolicy(kind="unlimited"),
    )
    fluid = assess(fc, Capacity(workers=15), **common).to_frame().query("scenario == 'point'")
    sim = assess(fc, Capacity(workers=15), method="simulate", seed=3, **common)
    sim = sim.to_frame().query("scenario == 'point'")
    assert fluid["refused"].sum() == 0 and sim["refused"].sum() == 0
    # Delayed beyond 2 s: fluid 200 s x 400 + the drain; simulation's bound per second.
    assert fluid["delayed"].sum() == pytest.approx(sim["delayed"].sum(), rel=0.1)
    assert (fluid["meets_slo"] == sim["meets_slo"]).mean() > 0.85


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda fc: assess(fc, None), ValueError, "only a plan has capacity"),
        (lambda fc: assess(fc, Capacity(workers=10)), ValueError, "needs service"),
        (lambda fc: assess(fc, Capacity(tested_concurrency=8e6)), ValueError, "need sessions"),
        (
            lambda fc: assess(fc, Capacity(workers=[1, 2, 3]), service=SERVICE),
            ValueError,
            "3 values; give one number or one per interval",
        ),
        (lambda fc: assess(fc, {"servers": 3}), ValueError, "unknown field"),
        (lambda fc: assess(fc, 8e6), TypeError, "must be a Capacity"),
        (lambda fc: assess(fc.to_frame(), Capacity(workers=1)), TypeError, "forecast_or_plan"),
        (
            lambda fc: assess(fc, Capacity(workers=5), service=SERVICE, method="exact"),
            ValueError,
            "method",
        ),
        (
            lambda fc: assess(fc, Capacity(workers=5), service=SERVICE, interval_s=7),
            ValueError,
            "not whole intervals",
        ),
        (
            lambda fc: assess(fc, Capacity(stream_servers=4), sessions=SESSIONS),
            ValueError,
            "streams_per_server",
        ),
        (lambda fc: Capacity(), ValueError, "at least one"),
        (lambda fc: Capacity(workers=-1), ValueError, "whole numbers >= 0"),
        (lambda fc: Capacity(workers=2.5), ValueError, "whole numbers >= 0"),
        (lambda fc: Capacity(tested_concurrency=0), ValueError, "tested_concurrency"),
    ],
)
def test_bad_input_says_what_to_give(forecast, call, error, match):
    with pytest.raises(error, match=match):
        call(forecast)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "capplan.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_assesses_a_saved_plan_with_a_tested_concurrency(forecast, tmp_path):
    plan = plan_event(
        forecast, SESSIONS, service=SERVICE, streams_per_server=20_000, window=(-600, 3000)
    )
    path = plan.save(tmp_path / "plan.json")
    out = tmp_path / "minutes.csv"
    result = run("assess", "--plan", str(path), "--tested-concurrency", "1e6", "-o", str(out))
    assert result.returncode == 0, result.stderr
    expected = assess(capplan.load_plan(path), Capacity.of_plan(plan, tested_concurrency=1e6))
    p = expected.summary().at["tested concurrency", "p_breach"]
    assert f"breaks first: tested concurrency (P = {p:.3g})" in result.stdout
    assert "join path" in result.stdout and "stream servers" in result.stdout
    table = pd.read_csv(out)
    assert set(table["resource"]) == {"join path", "stream servers", "tested concurrency"}


@pytest.mark.slow
def test_cli_without_a_plan_or_a_capacity_is_one_line_and_exit_code_2():
    result = run("assess")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--tested-concurrency" in result.stderr
