"""JoinForecast.burst_factor against the defining product, solved here by brentq.

The burst factor of an interval is the ``x`` with ``prod_s F_s(x mean(m) / m_s) = q``,
``F_s`` the CDF of ``G_s ~ Gamma(1/a_s, a_s)`` (scipy.stats, in logs), found per interval
by scipy's brentq: independent of the vectorised Newton search of the module.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from capplan.models.noise import mixing_alpha
from capplan.planning import JoinForecast


def _reference(m, alpha, cluster, q):
    a = mixing_alpha(m[None, :], alpha, cluster)[0]
    mean = m.mean()

    def excess(x):
        live = m > 0
        bound = x * mean / m[live]
        noisy = a[live] > 0
        if np.any(~noisy & (bound < 1)):
            return -np.inf
        k = 1 / a[live][noisy]
        return stats.gamma.logcdf(bound[noisy], k, scale=1 / k).sum() - np.log(q)

    hi = m.max() / mean
    while excess(hi) < 0:
        hi *= 2
    return optimize.brentq(excess, 1e-9, hi, xtol=1e-14, rtol=1e-13)


@pytest.mark.parametrize("cluster", [0.0, 0.5])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_burst_factor_solves_the_product_of_gamma_cdfs(q, cluster):
    rng = np.random.default_rng(3)
    # 20 one-minute intervals from a few joins a second to 100,000: the over-dispersion
    # weighs at high rates, the clusters at low ones; some seconds with no rate at all.
    rates = np.exp(rng.uniform(np.log(3), np.log(1e5), 20))[:, None] * rng.gamma(4, 0.25, (20, 60))
    rates[2, :7] = 0.0
    flat = rates.ravel()
    fc = JoinForecast.from_rates(
        pd.Series(flat, index=np.arange(flat.size)), factor=1.0, alpha_per_second=0.02
    )
    fc = dataclasses.replace(fc, cluster_per_second=cluster)
    got = fc.burst_factor(60, q)
    want = [_reference(row, 0.02, cluster, q) for row in rates]
    np.testing.assert_allclose(got, want, rtol=2e-10)
