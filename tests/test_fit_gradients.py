"""Analytic gradients of the fits against central finite differences, and recovery with them.

The join curve's shapes, the session distributions and the two likelihoods built from
them declare exact derivatives (capplan.models.join_forms, floods, distributions,
sessions); the optimisers use them instead of finite differences. Each is checked here
against a central difference of the function it differentiates, at parameter values
away from the kinks of the curves (a flood's onset on a grid point, equal time scales
in the lobby's hand-over), and then the fits that use them must still recover the
parameters data were generated from.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from capplan.models import DISTRIBUTIONS, Floods, LobbyFlood, PlateauSurge, fit_join_curve, sessions
from capplan.models import join_curve as jc
from capplan.models._fitting import Param, fit_mean_counts, maximize
from capplan.models.join_forms import _LeadFlood

LOBBY = {
    "lead_share": 0.2,
    "ramp_s": 600.0,
    "surge_time_s": 30.3,
    "rise_s": 40.0,
    "decay_s": 900.0,
}
FLOODS = {
    **LOBBY,
    "share_2": 0.3,
    "surge_time_2_s": 2000.7,
    "rise_2_s": 100.0,
    "decay_2_s": 700.0,
    "share_3": 0.2,
    "surge_time_3_s": 4000.2,
    "rise_3_s": 300.0,
    "decay_3_s": 200.0,  # rise > decay: the flood is symmetric in its two time scales
    "background_drift_per_h": 0.4,
}
PLATEAU = {
    "lead_share": 0.4,
    "onset_s": -1000.0,
    "onset_width_s": 300.0,
    "surge_time_s": 2000.3,
    "rise_s": 100.0,
    "decay_s": 500.0,
}
TIMES = np.linspace(-3000.0, 9000.0, 1201) + 0.05  # off the onsets


def central(func, p: dict, name: str, relative=1e-6):
    h = relative * max(abs(p[name]), 1.0)
    return (func({**p, name: p[name] + h}) - func({**p, name: p[name] - h})) / (2 * h)


def relative_error(got, expected):
    return float(np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-300))


@pytest.mark.parametrize(
    ("form", "p"),
    [
        (LobbyFlood(), LOBBY),
        (LobbyFlood(), {**LOBBY, "rise_s": 950.0}),  # rise > decay
        (PlateauSurge(), PLATEAU),
        (Floods(), LOBBY),
        (Floods(k=3, drift=True), FLOODS),
    ],
    ids=["lobby", "lobby-swapped", "plateau", "floods-1", "floods-3-drift"],
)
def test_shape_gradients_match_central_differences(form, p):
    assert form.declares_gradient
    cdf, gradient = form.cdf_gradient(TIMES, p)
    np.testing.assert_allclose(cdf, form.cdf(TIMES, p), rtol=1e-12, atol=1e-14)
    assert gradient.shape == (len(TIMES), len(form.params))
    for j, param in enumerate(form.params):
        expected = central(lambda q: form.cdf(TIMES, q), p, param.name)
        assert relative_error(gradient[:, j], expected) < 1e-6, param.name


def test_floods_with_equal_time_scales():
    # The flood's closed form divides by decay - rise; equal ones take its limit.
    p = {**FLOODS, "rise_2_s": 700.0, "decay_2_s": 700.0}
    form = Floods(k=3, drift=True)
    cdf, gradient = form.cdf_gradient(TIMES, p)
    np.testing.assert_allclose(cdf, form.cdf(TIMES, p), rtol=1e-12, atol=1e-14)
    names = form.param_names
    # On the diagonal each time scale carries half the derivative along it.
    along = central(
        lambda q: form.cdf(TIMES, {**q, "decay_2_s": q["rise_2_s"]}), p, "rise_2_s", 1e-5
    )
    both = gradient[:, names.index("rise_2_s")] + gradient[:, names.index("decay_2_s")]
    assert relative_error(both, along) < 1e-5
    np.testing.assert_allclose(
        gradient[:, names.index("rise_2_s")], gradient[:, names.index("decay_2_s")]
    )


def test_drifting_background_gradient():
    form = Floods(k=1, drift=True)
    edges = np.append(TIMES, TIMES[-1] + 10.0)
    for drift in (-0.7, 1e-9, 0.0):  # exprel's derivative takes its series near 0
        q = {**LOBBY, "background_drift_per_h": drift}
        counts, per_b, by_shape = form.background_gradient(edges, 5.0, q)
        np.testing.assert_allclose(counts, form.background_counts(edges, 5.0, q), rtol=1e-13)
        np.testing.assert_allclose(per_b * 5.0, counts, rtol=1e-13)
        expected = central(
            lambda r: form.background_counts(edges, 5.0, r), q, "background_drift_per_h"
        )
        assert relative_error(by_shape["background_drift_per_h"], expected) < 1e-6


def _counts(seed=3, step=10.0, missing=True):
    rng = np.random.default_rng(seed)
    t = np.arange(-1800.0, 7200.0, step)
    form = Floods(k=3, drift=True)
    mu = jc._expected_counts(form, np.append(t, t[-1] + step), 20.0, 2e5, FLOODS)
    y = rng.poisson(mu).astype(float)
    if missing:
        y[100:110] = np.nan
    return form, jc._Counts(t, y, step)


def test_join_curve_score_and_jacobian_match_the_likelihood():
    form, counts = _counts()
    mean_counts, loglike, _, params, _ = jc._likelihood(form, counts)
    jacobian, score = jc._derivatives(form, counts)
    p = {"background_per_s": 18.0, "audience": 1.9e5, **FLOODS, "surge_time_2_s": 1990.4}
    values = np.array([p[q.name] for q in params])
    value, gradient = score(values)
    assert value == pytest.approx(loglike(values), rel=1e-12)
    observed = np.isfinite(counts.y)
    mu, jac = jacobian(values)
    np.testing.assert_allclose(mu, mean_counts(values)[observed], rtol=1e-12)
    names = [q.name for q in params]
    for j, name in enumerate(names):
        expected_mu = central(
            lambda q: mean_counts(np.array([q[n] for n in names]))[observed], p, name
        )
        assert relative_error(jac[:, j], expected_mu) < 1e-5, name
        expected = central(lambda q: loglike(np.array([q[n] for n in names])), p, name)
        assert gradient[j] == pytest.approx(expected, rel=1e-5, abs=1e-6), name


def test_forms_without_gradients_still_fit():
    # A shape that declares no gradient (a user's) is fitted by finite differences.
    class NoGradient(LobbyFlood):
        lead_derivatives = _LeadFlood.lead_derivatives  # the base's: not declared

    form = NoGradient()
    assert not form.declares_gradient
    assert jc._derivatives(form, _counts()[1]) == (None, None)
    t = np.arange(-1800.0, 3600.0, 10.0)
    mu = jc._expected_counts(LobbyFlood(), np.append(t, t[-1] + 10), 20.0, 2e5, LOBBY)
    y = np.random.default_rng(1).poisson(mu)
    series = pd.Series(y, index=pd.Index(t.astype(int), name="seconds"))
    slow = fit_join_curve(series, form=form)
    fast = fit_join_curve(series, form=LobbyFlood())
    assert slow.estimate.loglike == pytest.approx(fast.estimate.loglike, abs=0.5)


@pytest.mark.parametrize("dist", list(DISTRIBUTIONS.values()), ids=list(DISTRIBUTIONS))
def test_distribution_gradients_match_central_differences(dist):
    values = {"median_s": 700.0, "sigma": 0.9, "scale_s": 800.0, "shape": 1.3, "mean_s": 650.0}
    p = {q.name: values[q.name] for q in dist.params}
    x = np.concatenate([[-5.0, 0.0], np.geomspace(0.5, 50_000, 200)])
    h, dh = dist.integrated_survival_gradient(x, p)
    f, df = dist.cdf_gradient(x, p)
    mean, d_mean = dist.mean_gradient(p)
    np.testing.assert_allclose(h, dist.integrated_survival(x, p), rtol=1e-12)
    np.testing.assert_allclose(f, 1 - dist.survival(x, p), rtol=1e-12, atol=1e-15)
    assert mean == pytest.approx(dist.mean(p), rel=1e-12)
    for j, q in enumerate(dist.params):
        expected = central(lambda r: dist.integrated_survival(x, r), p, q.name, 1e-5)
        assert relative_error(dh[:, j], expected) < 1e-6, q.name
        expected = central(lambda r: 1 - dist.survival(x, r), p, q.name, 1e-5)
        assert relative_error(df[:, j], expected) < 1e-6, q.name
        expected = central(lambda r: dist.mean(r), p, q.name, 1e-5)
        assert d_mean[j] == pytest.approx(expected, rel=1e-6), q.name


def test_lognormal_integrated_survival_gradient_against_quadrature():
    # d H / d sigma = int_0^x d S / d sigma, by quad: independent of the closed form.
    dist, p = DISTRIBUTIONS["lognormal"], {"median_s": 700.0, "sigma": 0.9}

    def d_survival(s):
        z = (math.log(s) - math.log(p["median_s"])) / p["sigma"]
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) * z / p["sigma"]

    for x in (10.0, 700.0, 20_000.0):
        reference = integrate.quad(d_survival, 0, x, epsrel=1e-12, limit=200)[0]
        got = dist.integrated_survival_gradient(np.array([x]), p)[1][0, 1]
        assert got == pytest.approx(reference, rel=1e-8)


def _session_data():
    rng = np.random.default_rng(4)
    t = np.arange(-1800.0, 5400.0, 10.0)
    joins = rng.poisson(50 + 400 * np.exp(-np.abs(t) / 600)).astype(float)
    leaves = rng.poisson(0.8 * joins.mean(), len(t)).astype(float)
    concurrent = np.cumsum(joins - leaves) + 20_000
    return t, joins, leaves, concurrent


@pytest.mark.parametrize("method", ["leaves", "concurrent"])
@pytest.mark.parametrize("kind", ["stationary", "fresh"])
@pytest.mark.parametrize("known", [None, 1234.0], ids=["fitted-initial", "known-initial"])
@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_sessions_score_matches_the_likelihood(method, kind, known, name):
    t, joins, leaves, concurrent = _session_data()
    background = sessions.background_count(joins, t, 10.0, 0.0)
    arrivals = sessions.split_lobby(joins, t, 10.0, 0.0, background)
    use = np.ones(len(t), dtype=bool)
    use[-30:] = False
    target = leaves if method == "leaves" else concurrent
    dist = DISTRIBUTIONS[name]
    problem = sessions._problem(dist, arrivals, target, use, method, kind, known)
    values = {"median_s": 800.0, "sigma": 1.1, "scale_s": 900.0, "shape": 1.2, "mean_s": 900.0}
    v = np.array([values[q.name] for q in dist.params] + ([3000.0] if known is None else []))
    value, gradient = problem.score(v)
    assert value == pytest.approx(problem.loglike(v), rel=1e-10)
    for i in range(len(v)):
        h = 1e-6 * abs(v[i])
        up, down = v.copy(), v.copy()
        up[i] += h
        down[i] -= h
        expected = (problem.loglike(up) - problem.loglike(down)) / (2 * h)
        assert gradient[i] == pytest.approx(expected, rel=1e-5, abs=1e-7), i


def test_expectation_matches_direct_convolution():
    # The expectation (FFT with the joins' spectrum kept) against numpy's direct convolution.
    t, joins, _, _ = _session_data()
    arrivals = sessions.split_lobby(joins, t, 10.0, None, None)
    dist, p = DISTRIBUTIONS["lognormal"], {"median_s": 800.0, "sigma": 1.1}
    got = sessions._expected(dist, p, arrivals, 500.0, "stationary", "leaves")
    kernel = sessions.leave_kernel(dist, p, 10.0, len(t))
    first = np.diff(dist.integrated_survival(10.0 * np.arange(len(t) + 1), p)) / dist.mean(p)
    expected = np.convolve(joins, kernel)[: len(t)] + 500.0 * first
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * expected.max())


def test_maximize_with_a_score_agrees_with_finite_differences():
    # A Poisson regression: the same estimate and covariance either way.
    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 400)
    y = rng.poisson(np.exp(1.0 + 2.0 * x))
    params = (Param("a", "1", -math.inf, math.inf), Param("b", "1", 0.0, 10.0))

    def loglike(v):
        eta = v[0] + v[1] * x
        return float(np.sum(y * eta - np.exp(eta)))

    def score(v):
        eta = v[0] + v[1] * x
        r = y - np.exp(eta)
        return loglike(v), np.array([r.sum(), (r * x).sum()])

    kwargs = {"n_obs": len(y), "what": "a test", "scales": {"a": 1.0}}
    numeric = maximize(loglike, params, [0.5, 1.0], **kwargs)
    exact = maximize(loglike, params, [0.5, 1.0], score=score, **kwargs)
    np.testing.assert_allclose(exact.values, numeric.values, rtol=1e-6)
    np.testing.assert_allclose(exact.cov, numeric.cov, rtol=1e-4)
    assert exact.converged and exact.loglike >= numeric.loglike - 1e-9


@pytest.mark.filterwarnings("ignore::capplan.warnings.CovarianceWarning")  # 3 floods on 10 s
def test_fit_mean_counts_with_a_jacobian_agrees_with_finite_differences():
    form, counts = _counts(missing=False)
    mean_counts, _, canonical, params, bounds = jc._likelihood(form, counts)
    jacobian, _ = jc._derivatives(form, counts)
    start = np.array(
        [{"background_per_s": 19.0, "audience": 2.1e5, **FLOODS}[q.name] for q in params]
    )
    alpha = Param("alpha", "1")
    kwargs = {"what": "a test", "bounds": bounds, "canonical": canonical}
    numeric = fit_mean_counts(mean_counts, counts.y, (*params, alpha), start, **kwargs)
    exact = fit_mean_counts(
        mean_counts, counts.y, (*params, alpha), start, jacobian=jacobian, **kwargs
    )
    assert exact.loglike == pytest.approx(numeric.loglike, abs=1e-2)
    np.testing.assert_allclose(exact.values, numeric.values, rtol=1e-3)


# -- recovery with the analytic gradients -------------------------------------------------------


def test_recovers_a_two_flood_event_on_a_drifting_background():
    # Generated from Floods(k=2, drift=True) itself, NB2 counts per 10 s; fitted with that form.
    # (Floods that overlap more, a decay of 900 s into a second flood at 2,400 s, leave the
    # greedy search in a poorer optimum than the truth, with or without these gradients.)
    truth = {
        "background_per_s": 20.0,
        "audience": 3.0e5,
        **LOBBY,
        "decay_s": 300.0,
        "share_2": 0.35,
        "surge_time_2_s": 3600.0,
        "rise_2_s": 60.0,
        "decay_2_s": 500.0,
        "background_drift_per_h": 0.3,
    }
    form = Floods(k=2, drift=True)
    t = np.arange(-1800.0, 7200.0, 10.0)
    names = [q.name for q in form.params]
    mu = jc._expected_counts(
        form,
        np.append(t, t[-1] + 10),
        truth["background_per_s"],
        truth["audience"],
        {n: truth[n] for n in names},
    )
    rng = np.random.default_rng(11)
    alpha = 0.02
    y = rng.poisson(mu * rng.gamma(1 / alpha, alpha, len(mu)))
    series = pd.Series(y, index=pd.Index(t.astype(int), name="seconds"))
    fit = fit_join_curve(series, form=Floods(k=2, drift=True))
    assert fit.diagnostics["converged"]
    table = fit.estimate.table(level=0.9999)
    for name, value in truth.items():
        row = table.loc[name]
        assert row["lower"] <= value <= row["upper"], (name, value, row.to_dict())
    assert abs(fit.diagnostics["peak_1min_ratio"] - 1) < 0.1
