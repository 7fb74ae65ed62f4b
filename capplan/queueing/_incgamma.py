"""Regularised incomplete gamma functions as log ratios to the Poisson pmf.

For real ``s > 0`` and ``x >= 0`` with ``p = p(s; x) = x**s e**-x / Gamma(s + 1)``:

* ``log_upper_ratio(s, x) = log(Q(s, x) / p)``; for whole ``s = c`` this is
  ``log(P[N <= c - 1] / P[N = c])`` for ``N ~ Poisson(x)``, the quantity behind Erlang B.
* ``log_lower_ratio(s, x) = log(P(s, x) / p)``; ``P(s, x)/p`` is Kummer's
  ``1F1(1; s + 1; x)``, the quantity behind Erlang A.

The ratios stay finite where ``Q``, ``P`` or ``p`` underflow. Regions, each accurate to a
few ulps and each converging in a bounded number of steps:

* ``s >= 20`` and ``0.7 <= x/s <= 1.3``: Temme's uniform expansion (DLMF 8.12) in log form.
  scipy's ``gammainc`` uses a power series here for large ``s`` and loses digits (1 %
  relative at ``s = 8e6``, ``x/s = 0.998``), so it is not used.
* for the upper ratio at whole ``s < 20`` and ``x >= 1`` (small server counts): the
  finite sum ``sum_{j=1..s} s (s-1) ... (s-j+1) / x**j``, all terms positive;
* otherwise ``x < s + 1``: the series of ``1F1(1; s + 1; x)``;
* otherwise: Legendre's continued fraction for ``Gamma(s, x)`` (modified Lentz).

The arithmetic is in :mod:`._kernels` (compiled, one element at a time: ``temme``,
``series_sums``, ``cf_upper``); these are its array forms.
"""

from __future__ import annotations

import numpy as np

from ._compiled import run_many


def log_upper_ratio(s, x) -> np.ndarray:
    """``log(Q(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0`` (flat array)."""
    return run_many("log_upper_ratio_many", np.asarray(s, float), np.asarray(x, float)).ravel()


def log_lower_ratio(s, x) -> np.ndarray:
    """``log(P(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0`` (flat array)."""
    return run_many("log_lower_ratio_many", np.asarray(s, float), np.asarray(x, float)).ravel()
