"""Regularised incomplete gamma functions as log ratios to the Poisson pmf.

For real ``s > 0`` and ``x >= 0`` with ``p = p(s; x) = x**s e**-x / Gamma(s + 1)``:

* ``log_upper_ratio(s, x) = log(Q(s, x) / p)``; for whole ``s = c`` this is
  ``log(P[N <= c - 1] / P[N = c])`` for ``N ~ Poisson(x)``, the quantity behind Erlang B.
* ``log_lower_ratio(s, x) = log(P(s, x) / p)``; ``P(s, x)/p`` is Kummer's
  ``1F1(1; s + 1; x)``, the quantity behind Erlang A.

The ratios stay finite where ``Q``, ``P`` or ``p`` underflow. Three regions, each accurate
to a few ulps and each converging in a bounded number of vectorised steps:

* ``s >= 20`` and ``0.7 <= x/s <= 1.3``: Temme's uniform expansion (DLMF 8.12) in log form.
  scipy's ``gammainc`` uses a power series here for large ``s`` and loses digits (1 %
  relative at ``s = 8e6``, ``x/s = 0.998``), so it is not used.
* otherwise ``x < s + 1``: the series of ``1F1(1; s + 1; x)``;
* otherwise: Legendre's continued fraction for ``Gamma(s, x)`` (modified Lentz).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, erfcx

from ._poisson import _HALF_LOG_2PI, bd0, log_pmf, stirlerr
from ._temme_coeffs import TEMME_D

_TEMME_MIN_S = 20.0
_TEMME_SPAN = 0.3
_EPS = 1e-17
_MAX_TERMS = 5000
_BLOCK = 8
_TINY = 1e-300
_D_ABS = np.abs(TEMME_D)
_K_POW = np.arange(TEMME_D.shape[0])
_N_POW = np.arange(TEMME_D.shape[1])


def _regions(s: np.ndarray, x: np.ndarray):
    temme = (s >= _TEMME_MIN_S) & (np.abs(x - s) <= _TEMME_SPAN * s)
    series = ~temme & (x < s + 1)
    return temme, series, ~temme & ~series


def series_sums(s: np.ndarray, x: np.ndarray):
    """``A = sum_j t_j`` and ``D = sum_j j t_j`` with ``t_j = x**j / ((s+1)...(s+j))``."""
    total = np.ones_like(x)
    moment = np.zeros_like(x)
    live = np.arange(x.size)
    sl, xl = s, x
    term, tot, mom = np.ones_like(x), total.copy(), moment.copy()
    j = 0
    while live.size and j < _MAX_TERMS:
        for _ in range(_BLOCK):  # whole blocks between compressions: cheaper than masks
            j += 1
            term *= xl / (sl + j)
            tot += term
            mom += j * term
        # Terms fall at least geometrically once j > x - s, so j * term bounds the tail.
        done = (j * term <= _EPS * tot) & (xl < sl + j)
        total[live[done]], moment[live[done]] = tot[done], mom[done]
        keep = ~done
        live, sl, xl, term, tot, mom = (v[keep] for v in (live, sl, xl, term, tot, mom))
    return total, moment


def _cf_upper(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Q(s, x) / p(s; x) = s * Gamma(s, x) / (x**s e**-x)`` by modified Lentz."""
    out = np.empty_like(x)
    live = np.arange(x.size)
    sl = s
    b = x + 1.0 - s
    c = np.full_like(x, 1.0 / _TINY)
    d = 1.0 / b
    h = d.copy()
    i = 0
    while live.size and i < _MAX_TERMS:
        for _ in range(_BLOCK):
            i += 1
            an = -i * (i - sl)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < _TINY, _TINY, d)
            c = b + an / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            d = 1.0 / d
            delta = d * c
            h = h * delta
        done = np.abs(delta - 1.0) <= 2e-16
        out[live[done]] = sl[done] * h[done]
        keep = ~done
        live, sl, b, c, d, h = (v[keep] for v in (live, sl, b, c, d, h))
    return out


def _temme_sum(eta: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``sum_k c_k(eta) / s**k`` with only as many terms as this batch needs."""
    # Bound each table entry's contribution at the batch's worst case; drop the
    # negligible ones (most of the table once s is large and eta small).
    mag = _D_ABS * np.max(np.abs(eta)) ** _N_POW[None, :] / np.min(s) ** _K_POW[:, None]
    keep = mag > 1e-19
    n_terms = int(np.max(np.nonzero(keep.any(axis=0))[0])) + 1
    k_terms = int(np.max(np.nonzero(keep.any(axis=1))[0])) + 1
    powers = np.empty((n_terms, eta.size))
    powers[0] = 1.0
    for n in range(1, n_terms):
        powers[n] = powers[n - 1] * eta
    ck = TEMME_D[:k_terms, :n_terms] @ powers  # row k holds c_k(eta)
    inv_s = 1.0 / s
    total = np.zeros_like(s)
    for k in range(k_terms - 1, -1, -1):
        total = total * inv_s + ck[k]
    return total


def _temme(s: np.ndarray, x: np.ndarray, upper: bool) -> np.ndarray:
    """``log Q/p`` (``upper``) or ``log P/p`` by Temme's expansion (DLMF 8.12.8)."""
    dev = bd0(s, x)  # = s * eta**2 / 2
    eta = np.sign(x - s) * np.sqrt(2.0 * dev / s)
    w = eta * np.sqrt(0.5 * s)
    r = _temme_sum(eta, s) / np.sqrt(2.0 * np.pi * s)
    # log p = -stirlerr - bd0 - log(2 pi s)/2; the bd0 cancels on the tail side.
    shift = stirlerr(s) + _HALF_LOG_2PI + 0.5 * np.log(s)
    sign = 1.0 if upper else -1.0
    tail = eta >= 0 if upper else eta <= 0  # the side where the result is small
    out = np.empty_like(s)
    with np.errstate(divide="ignore", under="ignore"):
        wt = np.abs(w[tail])
        out[tail] = np.log(0.5 * erfcx(wt) + sign * r[tail]) + shift[tail]
        bulk = ~tail
        wb, db = w[bulk], dev[bulk]
        out[bulk] = np.log(0.5 * erfc(sign * wb) + sign * np.exp(-db) * r[bulk]) + db + shift[bulk]
    return out


def _both(s, x, want_upper: bool):
    s, x = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(x, dtype=float))
    s, x = s.ravel(), x.ravel()
    out = np.empty_like(x)
    temme, series, cf = _regions(s, x)
    if temme.any():
        out[temme] = _temme(s[temme], x[temme], want_upper)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        if series.any():
            ss, xs = s[series], x[series]
            log_a = np.log(series_sums(ss, xs)[0])
            if want_upper:
                lp = log_pmf(ss, xs)
                out[series] = np.log1p(-np.exp(lp + log_a)) - lp
            else:
                out[series] = log_a
        if cf.any():
            sc, xc = s[cf], x[cf]
            log_r = np.log(_cf_upper(sc, xc))
            if want_upper:
                out[cf] = log_r
            else:
                lp = log_pmf(sc, xc)
                out[cf] = np.log1p(-np.exp(lp + log_r)) - lp
    return out


def log_upper_ratio(s, x) -> np.ndarray:
    """``log(Q(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0`` (flat array)."""
    return _both(s, x, want_upper=True)


def log_lower_ratio(s, x) -> np.ndarray:
    """``log(P(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0`` (flat array)."""
    return _both(s, x, want_upper=False)
