"""Profile quasi-likelihood intervals, for the parameters a Wald interval cannot bound.

Where the curvature at the estimate says little (a flood's rise hidden under a second
crest, a decay longer than the window), a Wald interval spans orders of magnitude. The
profile asks the data directly: fix the parameter, refit the others, and keep the values
whose Poisson log-likelihood is within ``chi2_1(level) / 2`` of the maximum, times the
quasi-likelihood's scale for that parameter. The scale is the parameter's own: its
sandwich variance over its model-based (Poisson) variance, the meat from the squared
residuals; where the information matrix is singular (the case a profile is for), its
diagonal: the squared Pearson residuals averaged with the weights ``(d mu_i / d
theta)**2 / mu_i`` by which each interval informs the parameter. One scale for all
would be the average interval's: far too small for a flood's time scales, informed
by the crest, where the counts vary most. Where the likelihood never falls far enough before the
parameter's range ends, the interval runs to the range's end, and says so.

Each side's crossing is sought on the signed root ``r = sqrt(2 (best - loglike))``
(negative where a refit beats the estimate), nearly linear in the working value where
the likelihood is near normal, with its target ``sqrt(2 drop)``. Outward, each refit is
aimed just past the crossing predicted by the line through the last two points (the
estimate first, ``r = 0``); once a point is outside, regula falsi on ``r`` in the
bracket, each try moved a third of the precision off the prediction away from the
bracket's nearer end, so that a try landing on the expected side closes the bracket.
The bound is the farthest point found inside, once the bracket is narrower than 3% of
its outside point's distance from the estimate. Where the profile is smooth that takes
about 3 refits a side (7 by doubling and bisection); where it is rough, bisection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import special, stats

from capplan.models._fitting import _THETA_LIMIT, Param, Space, fit_mean_counts

__all__ = ["profile_interval"]

_FIRST_STEP = 0.25  # working units (a log or logit scale), without a standard error
_REACH = 8.0  # working units tried at most: a factor e**8 (3000) on a log scale
_PRECISION = 0.03  # a bracket narrower than this share of its distance to the estimate ends
_OFFSET = _PRECISION / 3  # a try this share past or short of the predicted crossing
_BISECTIONS = 12  # refits at most to close a bracket
_WELL_POSED = 1e10  # condition number below which the information matrix is inverted
_MAX_ITER = 20  # Fisher scoring steps per refit, from the nearest point's values


def profile_interval(
    mean_counts: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    params: Sequence[Param],
    values: np.ndarray,
    index: int,
    *,
    bounds: dict,
    level: float,
    step: float | None = None,
    jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[float, float, bool, bool]:
    """Profile interval of parameter `index` of a curve fitted by Poisson quasi-likelihood.

    Parameters
    ----------
    mean_counts : callable
        Natural values of the curve's parameters -> expected count of each of `y`.
    y : numpy.ndarray
        Observed counts (no NaN).
    params : sequence of Param
        The curve's parameters (no alpha).
    values : numpy.ndarray
        Their estimates (natural), the maximum of the Poisson likelihood.
    index : int
        The parameter profiled.
    bounds : dict
        Ranges narrowed at fit time, as for the fit.
    level : float
        Coverage of the interval.
    step : float, optional
        First trial distance on the working scale: the parameter's standard error there,
        where it has one (0.25 without).
    jacobian : callable, optional
        Natural values -> ``(mean counts, d mean / d natural values)``, analytic (as for
        :func:`~capplan.models._fitting.fit_mean_counts`); central differences without.

    Returns
    -------
    (lower, upper, lower_open, upper_open)
        The interval (natural values); ``*_open``: the likelihood never fell far enough
        on that side, and the bound is the end of the parameter's range (or the farthest
        value tried, ``e**8`` times the estimate on a log scale).
    """
    params = tuple(params)
    values = np.asarray(values, dtype=float)
    space = Space.of(params, bounds)
    theta = space.working(values)
    others = [i for i in range(len(params)) if i != index]
    alpha = Param("alpha", "1", 0.0, np.inf)  # fit_mean_counts's last parameter, unused here
    mu = np.maximum(mean_counts(values), 1e-300)
    best = _poisson(y, mu)
    drop = (
        float(stats.chi2.ppf(level, 1))
        / 2
        * _scale(y, mu, mean_counts, space, theta, index, jacobian=jacobian)
    )

    def natural_at(w: float) -> float:
        full = theta.copy()
        full[index] = w
        return float(space.natural(full)[index])

    def profiled(w: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        fixed = natural_at(w)

        def curve(v):
            return mean_counts(np.insert(v, index, fixed))

        def curve_jacobian(v):
            mu, jac = jacobian(np.insert(v, index, fixed))
            return mu, np.delete(jac, index, axis=1)

        estimate = fit_mean_counts(
            curve,
            y,
            (*(params[i] for i in others), alpha),
            start,
            what="the profile",
            bounds=bounds,
            covariance=False,
            max_iter=_MAX_ITER,
            jacobian=None if jacobian is None else curve_jacobian,
        )
        return estimate.loglike, estimate.values

    edge = _THETA_LIMIT - 1

    def at(sign: float, distance: float, start: np.ndarray):
        """A refit `distance` out on side `sign`: ((distance, root, w), outside?, fitted)."""
        w = float(np.clip(theta[index] + sign * distance, -edge, edge))
        loglike, fitted = profiled(w, start)
        fall = best - loglike  # below 0 where a refit beats the estimate
        root = float(np.copysign(np.sqrt(2 * abs(fall)), fall))
        return (abs(w - theta[index]), root, w), fall > drop, fitted

    first = _FIRST_STEP if step is None or not np.isfinite(step) or step <= 0 else min(step, 1.0)
    target = float(np.sqrt(2 * drop))  # the signed root's size at the crossing
    ends = []
    for sign in (-1.0, 1.0):
        # Outward: each try just past the crossing predicted by the line through the last
        # two points (the first the estimate, root 0), at least 3% and at most twice as
        # far as the last (twice where the root did not grow).
        start = values[others]
        previous = inside = (0.0, 0.0, float(theta[index]))
        outside = None
        distance = first
        while True:
            point, out, fitted = at(sign, distance, start)
            if out:
                outside = point
                break
            previous, inside, start = inside, point, fitted
            if abs(point[2]) >= edge or distance >= _REACH:
                break
            crossing = _crossing(previous, inside, target)
            distance = min(
                max(crossing * (1 + _OFFSET), distance * (1 + _PRECISION)), 2 * distance, _REACH
            )
        if outside is not None:
            # Bracketing: regula falsi on the root, the try moved off its prediction away
            # from the bracket's nearer end (landing on the expected side then closes the
            # bracket), kept in its middle 90%; bisection where two tries have not halved it.
            widths = [outside[0] - inside[0]]
            for _ in range(_BISECTIONS):
                a, b = inside[0], outside[0]
                if b - a < _PRECISION * b:
                    break
                crossing = _crossing(inside, outside, target)
                trial = crossing * (1 - _OFFSET if b - crossing < crossing - a else 1 + _OFFSET)
                trial = float(np.clip(trial, a + 0.05 * (b - a), b - 0.05 * (b - a)))
                if len(widths) > 2 and widths[-1] > widths[-3] / 2:
                    trial = (a + b) / 2
                point, out, fitted = at(sign, trial, start)
                if out:
                    outside = point
                else:
                    inside, start = point, fitted
                widths.append(outside[0] - inside[0])
        ends.append((natural_at(inside[2]), outside is None))
    (lower, lower_open), (upper, upper_open) = ends
    return lower, upper, lower_open, upper_open


def _crossing(previous, last, target) -> float:
    """Distance at which the line through two (distance, root, w) points reaches `target`
    (infinite where the root does not grow)."""
    (d0, r0, _), (d1, r1, _) = previous, last
    return d1 + (target - r1) * (d1 - d0) / (r1 - r0) if r1 > r0 else np.inf


def _scale(y, mu, mean_counts, space, theta, index, h=1e-4, jacobian=None) -> float:
    """The quasi-likelihood's scale for parameter `index` (see the module's notes), >= 1."""
    k = theta.size
    if jacobian is not None:
        natural = space.natural(theta)
        jac = jacobian(natural)[1] * space.jacobian(natural)
    else:
        jac = np.empty((mu.size, k))
        for i in range(k):
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            jac[:, i] = (mean_counts(space.natural(up)) - mean_counts(space.natural(down))) / (
                2 * h
            )
    if not np.all(np.isfinite(jac)):
        return 1.0
    bread = jac.T @ (jac / mu[:, None])
    meat = jac.T @ (jac * ((y - mu) ** 2 / mu**2)[:, None])
    if np.linalg.cond(bread) < _WELL_POSED:  # the full sandwich: the nuisances' share too
        inverse = np.linalg.inv(bread)
        ratio = (inverse @ meat @ inverse)[index, index] / inverse[index, index]
    else:  # its diagonal, defined where the bread is singular
        ratio = meat[index, index] / bread[index, index]
    return max(float(ratio), 1.0) if np.isfinite(ratio) else 1.0


def _poisson(y, mu) -> float:
    mu = np.maximum(mu, 1e-300)
    return float(np.sum(special.xlogy(y, mu) - mu))
