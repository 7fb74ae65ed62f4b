"""The log-space kernels against mpmath: Poisson pmf, incomplete gamma ratios, Temme table.

The references use mpmath's own algorithms (hypergeometric series for the incomplete
gamma, loggamma) at 40+ digits, not the saddle-point forms under test.
"""

import sys
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

import capplan.queueing  # noqa: F401  (registers the submodules)

_incgamma = sys.modules["capplan.queueing._incgamma"]
_poisson = sys.modules["capplan.queueing._poisson"]
_temme = sys.modules["capplan.queueing._temme_coeffs"]


def temme_coefficients(n_k: int, n_eta: int) -> list[list[Fraction]]:
    """Exact ``d[k][n]`` with ``c_k(eta) = sum_n d[k][n] eta**n`` (DLMF 8.12.8-8.12.10).

    ``mu = x/s - 1`` as a series in ``eta`` solves ``eta (1 + mu) = mu mu'`` (from
    ``eta**2 / 2 = mu - log(1 + mu)``); ``c_0 = 1/mu - 1/eta`` and
    ``c_k = c_{k-1}' / eta + g_k / mu``, where the constant ``g_k`` is the one that
    cancels the pole at ``eta = 0`` (it is ``(-1)**k`` times Stirling's ``g_k``).
    """
    m = n_eta + 2 * n_k + 2
    a = [Fraction(0), Fraction(1)]
    for n in range(2, m + 3):
        a.append(
            a[n - 1] / (n + 1) - Fraction(1, 2) * sum(a[i] * a[n + 1 - i] for i in range(2, n))
        )
    u = [a[i + 1] for i in range(m + 1)]  # mu / eta
    inv = [Fraction(1)]  # eta / mu
    for n in range(1, m + 1):
        inv.append(-sum(u[i] * inv[n - i] for i in range(1, n + 1)))
    c = [inv[n + 1] for n in range(m)]
    table = [c[:n_eta]]
    for _ in range(1, n_k):
        der = [(n + 1) * c[n + 1] for n in range(len(c) - 1)]
        pole = -der[0]
        c = [der[n + 1] + pole * inv[n + 1] for n in range(len(der) - 1)]
        table.append(c[:n_eta])
    return table


def test_temme_table_matches_exact_rationals():
    k, n = _temme.TEMME_D.shape
    exact = temme_coefficients(k, n)
    # Known leading values (DLMF 8.12.9 and Temme 1979): c0(0) = -1/3, c1(0) = -1/540,
    # c2(0) = 25/6048.
    assert exact[0][0] == Fraction(-1, 3)
    assert exact[1][0] == Fraction(-1, 540)
    assert exact[2][0] == Fraction(25, 6048)
    assert np.array_equal(_temme.TEMME_D, np.array([[float(v) for v in row] for row in exact]))


def _ref_logs(s, x):
    """log pmf, log Q/p, log P/p by mpmath at high precision."""
    with mp.workdps(60):
        s, x = mp.mpf(s), mp.mpf(x)
        lp = s * mp.log(x) - x - mp.loggamma(s + 1)
        q = mp.gammainc(s, x, mp.inf, regularized=True)
        p = mp.gammainc(s, 0, x, regularized=True) if x < s else 1 - q
        return float(lp), float(mp.log(q) - lp), float(mp.log(p) - lp)


SHAPES = [0.3, 1.0, 7.5, 19.0, 20.0, 21.0, 49.0, 120.0, 1000.0, 1e4, 1e5]
RATIOS = [0.01, 0.3, 0.69, 0.7, 0.71, 0.9, 0.99, 1.0, 1.01, 1.1, 1.29, 1.3, 1.31, 2.0, 5.0]


@pytest.mark.parametrize("s", SHAPES)
def test_log_ratios_against_mpmath(s):
    for ratio in RATIOS:
        x = s * ratio
        lp, lq, lpr = _ref_logs(s, x)
        # The error of a log is the relative error of the value; a log of size L
        # cannot be rounded better than L * 2**-52, so allow for it.
        for got, ref in [
            (_poisson.log_pmf(s, x), lp),
            (_incgamma.log_upper_ratio(s, x)[0], lq),
            (_incgamma.log_lower_ratio(s, x)[0], lpr),
        ]:
            assert abs(got - ref) <= 1e-14 + 4e-16 * abs(ref), (s, ratio, got, ref)


@pytest.mark.parametrize("s", [1e6, 8e6 + 1, 1e7])
def test_log_ratios_near_the_mode_at_huge_shape(s):
    """The band where scipy.special.gammainc loses up to 1 % (s = 8e6, x/s = 0.998)."""
    for ratio in [0.99, 0.998, 0.999, 1.0, 1.002, 1.01]:
        x = s * ratio
        with mp.workdps(80):
            ss, xx = mp.mpf(s), mp.mpf(x)
            lp = ss * mp.log(xx) - xx - mp.loggamma(ss + 1)
            q = mp.gammainc(ss, xx, mp.inf, regularized=True)
            ref_q = float(mp.log(q) - lp)
        got = _incgamma.log_upper_ratio(s, x)[0]
        assert abs(got - ref_q) <= 1e-13 * max(1.0, abs(ref_q)), (s, ratio)


def test_stirlerr_and_bd0_against_mpmath():
    for s in [1.0, 2.0, 7.0, 10.0, 10.5, 14.9, 15.0, 100.0, 1e7]:
        with mp.workdps(50):
            ref = mp.loggamma(s + 1) - (s + 0.5) * mp.log(s) + s - mp.log(2 * mp.pi) / 2
        assert abs(_poisson.stirlerr(np.array([s]))[0] - float(ref)) <= 2e-16 * max(1, s)
    for s, x in [(1e7, 1e7 - 3.0), (1e7, 0.999e7), (50.0, 40.0), (5.0, 500.0)]:
        with mp.workdps(50):
            ref = s * mp.log(mp.mpf(s) / x) + x - s
        got = _poisson.bd0(np.array([s]), np.array([x]))[0]
        assert abs(got - float(ref)) <= 4e-16 * float(ref) + 1e-300


def test_zero_argument_edges():
    assert _incgamma.log_lower_ratio(5.0, 0.0)[0] == 0.0  # P/p -> 1F1(1; 6; 0) = 1
    assert _incgamma.log_upper_ratio(5.0, 0.0)[0] == np.inf
    assert _poisson.log_pmf(0.0, 3.0) == -3.0


def test_poisson_quantile_is_scipys_exactly():
    from scipy import stats

    from capplan.queueing._poisson import poisson_quantile

    rng = np.random.default_rng(3)
    mu = np.concatenate(
        [[0.0, 1e-12, 0.5], rng.uniform(0, 20, 2000), 10 ** rng.uniform(1, 8, 3000)]
    )
    for q in (0.001, 0.025, 0.5, 0.975, 0.999):
        assert np.array_equal(poisson_quantile(q, mu), stats.poisson.ppf(q, mu), equal_nan=True), q
