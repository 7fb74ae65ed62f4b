"""Log Poisson probability in saddle-point form (Loader 2000), for real ``s >= 0``.

``log p(s; x) = s log x - x - lgamma(s + 1)`` cancels about ``log10(s)`` digits when
``x`` is near ``s``; Loader's form ``-stirlerr(s) - bd0(s, x) - log(2 pi s) / 2`` keeps
them, because ``bd0`` is computed from ``(s - x)`` directly. Reference: C. Loader,
"Fast and accurate computation of binomial probabilities" (2000).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
# Stirling series of stirlerr(s) = lgamma(s+1) - (s+1/2) log s + s - log(2 pi)/2:
# B_2k / (2k (2k-1) s**(2k-1)); ten terms are exact to 1e-19 for s > 10.
_STIRLING = (
    1 / 12,
    -1 / 360,
    1 / 1260,
    -1 / 1680,
    1 / 1188,
    -691 / 360360,
    1 / 156,
    -3617 / 122400,
    43867 / 244188,
    -174611 / 125400,
)
# stirlerr(1..10) to double precision (mpmath, 40 digits): whole server counts are the
# common case, and the lgamma difference below loses ~1e-15 there.
_STIRLERR_INT = np.array(
    [
        0.0,
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
    ]
)


def stirlerr(s: np.ndarray) -> np.ndarray:
    """Error of Stirling's formula for ``log(s!)``, for ``s >= 1``."""
    s = np.asarray(s, dtype=float)
    out = np.empty_like(s)
    big = s > 10
    sb = s[big]
    r = 1.0 / (sb * sb)
    series = np.zeros_like(sb)
    for coef in reversed(_STIRLING):
        series = series * r + coef
    out[big] = series / sb
    ss = s[~big]
    whole = ss == np.floor(ss)
    direct = gammaln(ss + 1) - (ss + 0.5) * np.log(ss) + ss - _HALF_LOG_2PI
    out[~big] = np.where(whole, _STIRLERR_INT[np.where(whole, ss, 0).astype(int)], direct)
    return out


def bd0(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Deviance term ``s log(s/x) + x - s >= 0``, accurate when ``x`` is near ``s``."""
    s, x = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(x, dtype=float))
    out = np.empty(s.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (s - x) / (s + x)
        near = np.abs(v) < 0.2
        sn, xn, vn = s[near], x[near], v[near]
        # s log(s/x) + x - s = (s - x) v + 2 s (v^3/3 + v^5/5 + ...), |v| < 0.2.
        total = (sn - xn) * vn
        term = 2.0 * sn * vn
        v2 = vn * vn
        worst = np.max(v2, initial=0.0)
        n_terms = 1 if worst == 0 else min(20, int(np.ceil(np.log(1e-18) / np.log(worst))) + 1)
        for j in range(1, n_terms + 1):
            term = term * v2
            total = total + term / (2 * j + 1)
        out[near] = total
        sf, xf = s[~near], x[~near]
        out[~near] = sf * np.log(sf / xf) + xf - sf
    out = np.where(s == 0, x, out)
    return np.where((x == 0) & (s > 0), np.inf, out)


def log_pmf(s, x) -> np.ndarray:
    """``log(x**s e**-x / Gamma(s + 1))``: the Poisson log pmf extended to real ``s >= 0``."""
    s, x = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(x, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        big = s >= 1
        sb = np.where(big, s, 1.0)
        loader = -stirlerr(sb) - bd0(sb, x) - 0.5 * np.log(2.0 * np.pi * sb)
        # Below s = 1 every term is small, so the plain formula is already accurate.
        small = np.where(s == 0, -x, s * np.log(x) - x - gammaln(s + 1))
    return np.where(big, loader, small)


def poisson_quantile(q: float, mu) -> np.ndarray:
    """The least ``k`` with ``P(Poisson(mu) <= k) >= q``, exactly (scipy's ``poisson.ppf``).

    Starts from the Cornish-Fisher guess ``mu + z sqrt(mu) + (z**2 - 1) / 6`` and steps
    by one while the CDF (``scipy.special.pdtr``) says so: a step or two at any mean,
    where scipy's general inverse iterates for each value (slow at millions).
    """
    from scipy import special

    mu = np.asarray(mu, dtype=float)
    z = special.ndtri(q)
    with np.errstate(invalid="ignore"):  # a negative mean has no quantile: NaN, as scipy
        k = np.where(mu >= 0, np.floor(mu + z * np.sqrt(mu) + (z * z - 1) / 6), np.nan)
    k = np.maximum(k, 0.0)
    while True:
        low = special.pdtr(k, mu) < q
        if not low.any():
            break
        k = np.where(low, k + 1, k)
    while True:
        high = (k > 0) & (special.pdtr(k - 1, mu) >= q)
        if not high.any():
            break
        k = np.where(high, k - 1, k)
    return k
