"""Concurrency: E N(t) against independent numerical integration, queueing identities, bad input.

The reference is E N(t) = integral of lambda(s) P(S > t - s) ds computed by scipy's
quad on the continuous curve, with its own plain-Python rate function (not the
library's), split at the curve's kinks.
"""

import doctest
import importlib
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import capplan
from capplan.models import (
    ConcurrencyResult,
    concurrency,
    expected_concurrency,
    fit_join_curve,
    fit_sessions,
)
from capplan.models.distributions import LogNormal
from capplan.warnings import LackOfFitWarning

SESSIONS = ("lognormal", {"median_s": 900.0, "sigma": 1.1})


def survival(x):
    """P(S > x) of SESSIONS, written out: 1 - Phi((log x - log median) / sigma)."""
    if x <= 0:
        return 1.0
    return float(stats.norm.sf((math.log(x) - math.log(900.0)) / 1.1))


def curve_rate(s, p):
    """The fitted join curve's rate, written from the model's formula (per second)."""
    u = s - p["surge_time_s"]
    r, d, ramp = min(p["rise_s"], p["decay_s"]), max(p["rise_s"], p["decay_s"]), p["ramp_s"]
    lead = (math.exp(u / ramp) if u < 0 else math.exp(-u / r)) / (ramp + r)
    flood = (math.exp(-u / d) - math.exp(-u / r)) / (d - r) if u > 0 else 0.0
    share = p["lead_share"]
    return p["background_per_s"] + p["audience"] * (share * lead + (1 - share) * flood)


@pytest.fixture(scope="module")
def curve():
    """A join curve fitted to a small generated event (sharp flood: rise ~10 s)."""
    rng = np.random.default_rng(7)
    t = np.arange(-1800, 3600, 10)
    truth = {
        "background_per_s": 5.0,
        "audience": 5e4,
        "lead_share": 0.2,
        "ramp_s": 300.0,
        "surge_time_s": 0.0,
        "rise_s": 10.0,
        "decay_s": 200.0,
    }
    mu = np.array(
        [
            integrate.quad(
                curve_rate, a, a + 10, args=(truth,), points=[0.0] if a < 0 < a + 10 else None
            )[0]
            for a in t
        ]
    )
    counts = rng.poisson(mu * rng.gamma(50, 1 / 50, len(mu)))
    return fit_join_curve(pd.Series(counts, index=pd.Index(t, name="seconds")))


def reference(curve, t, initial):
    p = curve.params_.to_dict()
    t0 = float(curve.data.index[0])
    tau = p["surge_time_s"]

    def integrand(s):
        return curve_rate(s, p) * survival(t - s)

    breaks = sorted({x for x in (tau, tau + 50, tau + 500) if t0 < x < t})
    edges = [t0, *breaks, t]
    value = sum(
        integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-12, limit=500)[0]
        for a, b in itertools.pairwise(edges)
    )
    if initial == "stationary":  # the rate held at its first value before the grid
        rate0 = curve_rate(t0, p)
        value += integrate.quad(
            lambda x: rate0 * survival(x), t - t0, np.inf, epsabs=0, epsrel=1e-12, limit=500
        )[0]
    return value


@pytest.mark.parametrize("initial", ["empty", "stationary"])
def test_agrees_with_numerical_integration_of_the_curve(curve, initial):
    result = concurrency(curve, SESSIONS, initial=initial)
    times = [-1000.0, 0.0, 10.0, 60.0, 300.0, 1200.0, 3600.0]
    got = result.predict(times)["mean"].to_numpy()  # grid points: no interpolation
    want = np.array([reference(curve, t, initial) for t in times])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_exact_for_piecewise_constant_rates():
    rates = pd.Series([2.0, 10.0, 50.0, 20.0, 5.0] * 6, index=pd.Index(np.arange(30) * 60.0))
    result = concurrency(rates, SESSIONS, initial="empty")

    def rate(s):
        return float(rates.iloc[min(int(s // 60), len(rates) - 1)])

    for t in (60.0, 600.0, 1800.0):
        edges = np.arange(0.0, t + 1, 60.0)
        want = sum(
            integrate.quad(lambda s, t=t: rate(s) * survival(t - s), a, b, epsrel=1e-13)[0]
            for a, b in itertools.pairwise(edges)
        )
        assert result.predict([t])["mean"].iloc[0] == pytest.approx(want, rel=1e-9)


def test_steady_state_and_the_exponential_closed_form():
    # Little's law: a constant rate held since ever gives lambda E[S] at all times.
    rates = pd.Series(40.0, index=pd.Index(np.arange(0, 7200, 60.0)))
    steady = concurrency(rates, SESSIONS, initial="stationary").frame["mean"]
    mean_s = 900.0 * math.exp(1.1**2 / 2)
    np.testing.assert_allclose(steady, 40.0 * mean_s, rtol=1e-9)
    # Starting empty with exponential sessions: lambda m (1 - exp(-t/m)).
    filling = concurrency(rates, ("exponential", {"mean_s": 600.0}), initial="empty").frame
    t = filling.index.to_numpy()
    np.testing.assert_allclose(filling["mean"], 40.0 * 600.0 * -np.expm1(-t / 600.0), rtol=1e-9)


def test_pure_function_matches_the_result():
    joins = np.r_[np.zeros(10), np.full(50, 600.0), np.zeros(100)]
    p = {"median_s": 900.0, "sigma": 1.1}
    out = expected_concurrency(joins, 60.0, LogNormal(), p)
    result = concurrency(
        pd.Series(joins / 60.0, index=np.arange(160) * 60.0), SESSIONS, initial="empty"
    )
    np.testing.assert_allclose(out, result.frame["mean"], rtol=1e-12)


def test_bands_peak_and_face(curve):
    result = concurrency(curve, SESSIONS)
    assert isinstance(result, ConcurrencyResult)
    frame = result.to_frame()
    np.testing.assert_array_equal(frame["poisson_upper"], stats.poisson.ppf(0.975, frame["mean"]))
    assert (frame["lower"] <= frame["mean"]).all() and (frame["mean"] <= frame["upper"]).all()
    peak = result.peak()
    assert peak.listeners == frame["mean"].max()
    assert peak.lower < peak.listeners < peak.upper
    assert peak.poisson_lower < peak.listeners < peak.poisson_upper
    assert peak.time > curve.peak().time  # the concurrency peak lags the join peak
    assert "peak_listeners" in result.summary().index
    assert "M_t/G/inf" in str(result)
    result.chart().to_dict()


def test_sample_event_from_its_joins_and_fitted_sessions():
    # Observed joins, sessions fitted on the leaves: the expected concurrency reproduces
    # the measured one (found: peak 767,300 at 860 s against 769,717 at 859 s).
    history = capplan.sample_history().resample(10)
    event = history.event("ev-007")
    with pytest.warns(LackOfFitWarning):  # listeners giving up in the lobby of a late start
        sessions = fit_sessions(
            event["joins"], event["leaves"], event["concurrent"], end_s=3_600, clock_start_s=0
        )
    rates = event["joins"] / 10.0
    result = concurrency(rates, sessions, clock_start_s=0)
    observed = event["concurrent"]
    assert result.peak().listeners == pytest.approx(observed.max(), rel=0.01)
    assert abs(result.peak().time - observed.idxmax()) <= 60


def test_bad_input(curve):
    with pytest.raises(TypeError, match="JoinCurveFit or a pandas Series"):
        concurrency(np.ones(10), SESSIONS)
    with pytest.raises(TypeError, match="SessionsFit"):
        concurrency(curve, "lognormal")
    with pytest.raises(ValueError, match="unknown session distribution"):
        concurrency(curve, ("pareto", {"alpha": 1.0}))
    with pytest.raises(ValueError, match="need parameters"):
        concurrency(curve, ("lognormal", {"median_s": 900.0}))
    with pytest.raises(ValueError, match="divide"):
        concurrency(pd.Series([1.0, 2.0], index=[0.0, 60.0]), SESSIONS, step_s=7)
    with pytest.raises(ValueError, match=">= 0"):
        concurrency(pd.Series([1.0, -2.0], index=[0.0, 60.0]), SESSIONS)
    with pytest.raises(ValueError, match="initial"):
        concurrency(curve, SESSIONS, initial="full")


def test_docstring_examples():
    failures, _ = doctest.testmod(importlib.import_module("capplan.models.concurrency"))
    assert failures == 0
