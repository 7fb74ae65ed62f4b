"""Least regret: the level to plan for against the newsvendor's closed form, and bad input."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from capplan.planning import (
    SLO,
    ClientPolicy,
    JoinForecast,
    JoinService,
    Margins,
    plan_event,
)
from capplan.planning.regret import Costs, least_regret
from capplan.simulation import NoRetry

RATE, SECONDS, WORK_S = 20_000.0, 3600, 0.05
FACTOR, LEVEL = 1.5, 0.9  # the forecast's 90% quantile is 1.5 x its point


@pytest.fixture(scope="module")
def steady_plan():
    """An hour at 20,000 joins/s with no margins but the forecast's: the workers are
    about the load (1,000 Erlangs), so capacity is linear in the level planned for, and a
    short queue limit (0.5 s timeout) refuses whatever exceeds the workers."""
    fc = JoinForecast.from_rates(
        pd.Series(RATE, index=pd.RangeIndex(0, SECONDS)), factor=FACTOR, level=LEVEL
    )
    return plan_event(
        fc,
        ("exponential", {"mean_s": 300.0}),
        window=(0, SECONDS),
        service=JoinService(WORK_S),
        streams_per_server=1e9,
        slo=SLO(wait_s=0.2, fraction=0.99, max_refused=0.001),
        client=ClientPolicy(timeout_s=0.5, retry=NoRetry()),
        margins=Margins(
            burst_quantile=None, retry_failure_prob=0.0, spare_workers=0, spare_stream_servers=0
        ),
        interval_s=600,
        lobby_start_s=None,
    )


def lognormal_shortfall(sigma, k):
    """``E[(M - k)+]`` for ``log M ~ N(0, sigma**2)``, in closed form."""
    z = math.log(k) / sigma
    return math.exp(sigma**2 / 2) * stats.norm.cdf(sigma - z) - k * stats.norm.cdf(-z)


def test_the_newsvendor_level_is_chosen(steady_plan):
    # capacity for one join/s costs 3.6 / 3600 x 0.05 per second; a refused join 0.001:
    # the critical fractile P(M > m) = 0.05, so the 95% level
    costs = Costs(worker_hour=3.6, refused_join=0.001)
    levels = [0.93, 0.94, 0.95, 0.96, 0.97]
    result = least_regret(steady_plan, costs, levels=levels, nodes=200)
    assert result.level == 0.95
    assert result.plan.forecast.level == 0.95
    frame = result.to_frame()
    sigma = math.log(FACTOR) / stats.norm.ppf(LEVEL)
    assert result.sigma == pytest.approx(sigma, rel=1e-12)
    for level, row in frame.iterrows():
        # the fluid path drains at the workers' full rate: short of it, joins are refused
        k = row["peak_workers"] / WORK_S / RATE
        expected = SECONDS * RATE * lognormal_shortfall(sigma, k)
        assert row["expected_refused"] == pytest.approx(expected, rel=0.01), level
        assert row["capacity_cost"] == pytest.approx(3.6 * row["worker_hours"], rel=1e-12)
        # the workers are sized on the level's quantile of the event's size
        assert row["size_multiplier"] == pytest.approx(
            math.exp(sigma * stats.norm.ppf(level)), rel=1e-12
        )
    assert frame["expected_total_cost"].idxmin() == 0.95
    assert "least regret" in str(result.chart().to_dict())
    assert "95.0%" in str(result)


def test_a_dearer_breach_plans_higher(steady_plan):
    levels = [0.8, 0.9, 0.95, 0.99]
    cheap = least_regret(steady_plan, Costs(worker_hour=3.6, refused_join=2e-4), levels=levels)
    dear = least_regret(steady_plan, Costs(worker_hour=3.6, refused_join=0.01), levels=levels)
    assert cheap.level < dear.level
    assert np.all(np.diff(cheap.to_frame()["capacity_cost"]) > 0)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"worker_hour": -1.0, "refused_join": 1.0}, "worker_hour must be >= 0"),
        ({"refused_join": 1.0}, "give worker_hour or stream_server_hour"),
        ({"worker_hour": 1.0}, "at least one breach cost"),
        ({"worker_hour": float("nan"), "refused_join": 1.0}, "finite"),
    ],
)
def test_bad_costs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Costs(**kwargs)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"levels": [0.9]}, "at least two"),
        ({"levels": [0.5, 1.0]}, r"in \(0, 1\)"),
        ({"nodes": 3}, "nodes"),
        ({"attack_rps": -5.0}, "attack_rps"),
    ],
)
def test_bad_arguments(steady_plan, kwargs, words):
    with pytest.raises(ValueError, match=words):
        least_regret(steady_plan, Costs(worker_hour=1.0, refused_join=1.0), **kwargs)


def test_a_forecast_without_spread_is_refused(steady_plan):
    flat = steady_plan.replan(
        forecast=steady_plan.forecast.replace(upper=steady_plan.forecast.point)
    )
    with pytest.raises(ValueError, match="no spread"):
        least_regret(flat, Costs(worker_hour=1.0, refused_join=1.0))
