"""Log Poisson probability in saddle-point form (Loader 2000), for real ``s >= 0``.

``log p(s; x) = s log x - x - lgamma(s + 1)`` cancels about ``log10(s)`` digits when
``x`` is near ``s``; Loader's form ``-stirlerr(s) - bd0(s, x) - log(2 pi s) / 2`` keeps
them, because ``bd0`` is computed from ``(s - x)`` directly. Reference: C. Loader,
"Fast and accurate computation of binomial probabilities" (2000).
"""

from __future__ import annotations

import numpy as np

from ._compiled import run_many

# The arithmetic is in ._kernels (stirlerr, bd0, log_pmf: compiled, one element at a
# time); these are its array forms.


def stirlerr(s) -> np.ndarray:
    """Error of Stirling's formula for ``log(s!)``, for ``s >= 1``."""
    return run_many("stirlerr_many", np.asarray(s, dtype=float))


def bd0(s, x) -> np.ndarray:
    """Deviance term ``s log(s/x) + x - s >= 0``, accurate when ``x`` is near ``s``."""
    return run_many("bd0_many", np.asarray(s, dtype=float), np.asarray(x, dtype=float))


def log_pmf(s, x) -> np.ndarray:
    """``log(x**s e**-x / Gamma(s + 1))``: the Poisson log pmf extended to real ``s >= 0``."""
    return run_many("log_pmf_many", np.asarray(s, dtype=float), np.asarray(x, dtype=float))


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
