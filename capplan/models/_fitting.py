"""The shared maximum-likelihood base: declared parameters, optimisation, covariance, intervals.

A model declares its parameters (:class:`Param`: name, unit, range) and a
log-likelihood of their natural values; :func:`maximize` does the rest:

1. maps each parameter to a well-scaled, unbounded working value ``theta``
   (``log`` of a positive parameter, ``logit`` of a share or of a parameter
   with a finite range, a real parameter divided by a typical scale), so the
   optimiser sees an unconstrained, roughly isotropic problem;
2. maximises the log-likelihood with ``scipy.optimize.minimize`` (BFGS,
   then Newton steps on a numerical Hessian until the Newton decrement
   ``g' H^-1 g / 2`` is below ``1e-6`` log-likelihood units). The fit counts
   as converged when the decrement, the gain one more Newton step would
   bring, is below ``0.01`` log-likelihood units (a parameter drifting to
   the edge of its range, such as ``alpha`` toward 0 for Poisson-like
   counts, never reaches 1e-6, and gains nothing that matters). A model that
   also gives the gradient of its log-likelihood (``score=``, analytic) gets
   exact gradients in BFGS, which then stops once ten iterations in a row
   gained less than 0.001 in all, and a Hessian from central differences of
   the gradient; without it, gradients and Hessian are finite differences of
   the log-likelihood (``k + 1`` and ``O(k**2)`` evaluations, four fifths of
   a fit's time when it was the only way);
3. takes the covariance of ``theta`` as the inverse of the numerical Hessian
   (central differences of the gradient, or
   ``statsmodels.tools.numdiff.approx_hess3`` of the negative log-likelihood
   without one);
4. gives each natural parameter a standard error by the delta method and a
   Wald interval computed on the working scale and mapped back (so the
   interval of a positive parameter stays positive and is asymmetric, as a
   log-scale interval should be).

Doubtful fits warn (:mod:`capplan.warnings`) with their diagnostics: the
optimiser did not converge, the Hessian is not positive definite, or a
parameter sits at the edge of its range.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

from capplan.warnings import BoundaryWarning, ConvergenceWarning, CovarianceWarning

_PENALTY = 1e300  # objective value where the model is undefined (the optimiser backs off)
_THETA_LIMIT = 60.0  # |theta| bound: exp(60) ~ 1e26, far outside any plausible value
_EDGE = 14.0  # |theta| beyond which a bounded parameter sits at its edge (1e-6 of its range)
_MAX_STEP = 1.0  # largest Fisher-scoring move of one working value (a factor e of a scale)
# Fisher scoring stops when one more step would gain less than this (log-likelihood units):
# misfit makes its convergence linear, and the last 1e-3 took as many steps as all before.
_SCORING_TOLERANCE = 1e-3
_WILD_SD = math.log(100) / (2 * 1.96)  # working-scale sd of a 95% interval spanning 100-fold
# BFGS with analytic gradients, and Fisher scoring in a structure search, stop when this many
# iterations gained less than this in all (log-likelihood units): a crawl along a kink of the
# likelihood (a flood's onset on an interval's edge), or the last digits.
_STALL_ITERATIONS = 10
_STALL_GAIN = 1e-3


@dataclass(frozen=True)
class Param:
    """A declared model parameter.

    Parameters
    ----------
    name : str
        Name, carrying its unit where it could be misread (``decay_s``).
    unit : str
        Unit shown in summaries (``"s"``, ``"1/s"``, ``"joins"``, ``"share"``).
    lower, upper : float
        Range of the parameter (``-inf`` / ``inf`` for none); a model may
        narrow it from the data at fit time.
    description : str
        One line for a planner.

    Notes
    -----
    The working (fitting) scale follows from the range: ``log x`` on
    ``(0, inf)`` (``log(x - lower)`` on ``(lower, inf)``), the logit of
    ``(x - lower) / (upper - lower)`` on a finite range, and ``x / scale`` on
    the whole line, ``scale`` a typical magnitude given at fit time.
    """

    name: str
    unit: str
    lower: float = 0.0
    upper: float = math.inf
    description: str = ""

    def __post_init__(self):
        if not self.lower < self.upper:
            raise ValueError(f"Param {self.name!r}: lower must be below upper")


@dataclass(frozen=True)
class Space:
    """The one-to-one map between natural and working values of a list of parameters."""

    lower: np.ndarray
    upper: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, params, bounds=None, scales=None) -> Space:
        """The space of `params`, with ranges narrowed by `bounds` and `scales` of real ones."""
        bounds, scales = bounds or {}, scales or {}
        ranges = [bounds.get(p.name, (p.lower, p.upper)) for p in params]
        lo = np.array([r[0] for r in ranges], dtype=float)
        hi = np.array([r[1] for r in ranges], dtype=float)
        bad = [p.name for p, a, b in zip(params, lo, hi, strict=True) if not a < b]
        if bad:
            raise ValueError(f"empty range for parameter(s) {bad}")
        scale = np.array([float(scales.get(p.name, 1.0)) for p in params])
        return cls(lo, hi, scale)

    def _masks(self):
        lo, hi = np.isfinite(self.lower), np.isfinite(self.upper)
        return lo & hi, lo & ~hi, ~lo & hi, ~lo & ~hi

    def natural(self, theta) -> np.ndarray:
        """Natural values of working values (vectorised over leading axes)."""
        theta = np.asarray(theta, dtype=float)
        both, low, high, free = self._masks()
        lo, hi = self.lower, self.upper
        out = np.empty_like(theta)
        out[..., both] = lo[both] + (hi[both] - lo[both]) * special.expit(theta[..., both])
        out[..., low] = lo[low] + np.exp(theta[..., low])
        out[..., high] = hi[high] - np.exp(theta[..., high])
        out[..., free] = theta[..., free] * self.scale[free]
        return out

    def working(self, values) -> np.ndarray:
        """Working values of natural values (NaN or inf outside the ranges)."""
        x = np.asarray(values, dtype=float)
        both, low, high, free = self._masks()
        lo, hi = self.lower, self.upper
        out = np.empty_like(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., both] = special.logit((x[..., both] - lo[both]) / (hi[both] - lo[both]))
            out[..., low] = np.log(x[..., low] - lo[low])
            out[..., high] = -np.log(hi[high] - x[..., high])
        out[..., free] = x[..., free] / self.scale[free]
        return out

    def jacobian(self, values) -> np.ndarray:
        """d natural / d working for each parameter (the map is separable)."""
        x = np.asarray(values, dtype=float)
        both, low, high, free = self._masks()
        lo, hi = self.lower, self.upper
        out = np.empty_like(x)
        out[both] = (x[both] - lo[both]) * (hi[both] - x[both]) / (hi[both] - lo[both])
        out[low] = x[low] - lo[low]
        out[high] = hi[high] - x[high]
        out[free] = self.scale[free]
        return out

    def at_edge(self, theta) -> np.ndarray:
        """Parameters pressed against an end of their range."""
        both, low, high, _ = self._masks()
        theta = np.asarray(theta, dtype=float)
        return (both & (np.abs(theta) > _EDGE)) | ((low | high) & (theta < -_THETA_LIMIT + 1))


@dataclass(frozen=True)
class Estimate:
    """A maximum-likelihood estimate with its covariance and diagnostics.

    Attributes
    ----------
    params : tuple of Param
    theta : numpy.ndarray
        Working-scale estimate.
    cov_theta : numpy.ndarray
        Covariance of ``theta`` (inverse Hessian, times ``dispersion`` for a
        quasi-likelihood); rows and columns of unidentified parameters are NaN.
    space : Space
        The map between natural and working values.
    loglike : float
        Maximised log-likelihood.
    n_obs : int
        Observations in the likelihood.
    converged : bool
    diagnostics : dict
        ``newton_decrement``, ``max_abs_gradient``, ``min_hessian_eigenvalue``,
        ``condition_number``, ``n_evaluations``, ``message``, ``dispersion``.
    """

    params: tuple[Param, ...]
    theta: np.ndarray
    cov_theta: np.ndarray
    space: Space
    loglike: float
    n_obs: int
    converged: bool
    diagnostics: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def values(self) -> np.ndarray:
        """Natural-scale estimates."""
        return self.space.natural(self.theta)

    def value(self, name: str) -> float:
        return float(self.values[self.names.index(name)])

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def aic(self) -> float:
        return 2 * self.n_params - 2 * self.loglike

    @property
    def bic(self) -> float:
        return self.n_params * math.log(self.n_obs) - 2 * self.loglike

    @property
    def std_err(self) -> np.ndarray:
        """Standard errors of the natural values (delta method)."""
        jac = self.space.jacobian(self.values)
        return np.abs(jac) * np.sqrt(np.diag(self.cov_theta))

    @property
    def cov(self) -> np.ndarray:
        """Covariance of the natural values (delta method)."""
        jac = self.space.jacobian(self.values)
        return self.cov_theta * np.outer(jac, jac)

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Wald interval on the working scale, mapped to natural values."""
        z = _z(level)
        sd = np.sqrt(np.diag(self.cov_theta))
        lower = self.space.natural(self.theta - z * sd)
        upper = self.space.natural(self.theta + z * sd)
        return lower, upper

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per parameter: ``estimate``, ``std_err``, ``lower``, ``upper``, ``unit``."""
        lower, upper = self.interval(level)
        return pd.DataFrame(
            {
                "estimate": self.values,
                "std_err": self.std_err,
                "lower": lower,
                "upper": upper,
                "unit": [p.unit for p in self.params],
            },
            index=pd.Index(self.names, name="parameter"),
        )

    def delta(self, func: Callable[[np.ndarray], np.ndarray], *, log: bool = False):
        """Value and standard error of ``func(natural values)`` by the delta method.

        Parameters
        ----------
        func : callable
            Natural parameter vector -> 1-d array of derived quantities.
        log : bool
            Differentiate ``log(func)`` (for positive quantities whose
            interval should be taken on the log scale).

        Returns
        -------
        value, std_err : numpy.ndarray
            ``func`` at the estimate and the standard error of ``func`` (or
            of ``log func`` when `log`).
        """

        def on_theta(theta):
            out = np.atleast_1d(func(self.space.natural(theta)))
            return np.log(out) if log else out

        value = np.atleast_1d(func(self.values))
        # approx_fprime gives (outputs, parameters); a single output may come back flat.
        jac = np.reshape(approx_fprime(self.theta, on_theta, centered=True), (len(value), -1))
        var = np.einsum("ij,jk,ik->i", jac, self.cov_theta, jac)
        return value, np.sqrt(np.maximum(var, 0.0))

    def draws(self, n: int, seed) -> np.ndarray:
        """`n` natural-parameter vectors drawn from N(theta, cov_theta) (parametric bootstrap).

        Parameters the data do not identify (NaN rows of the covariance) are held at their
        estimate and the others drawn from their own block: what follows is conditional on
        the unidentified ones, where drawing them would give curves the data rule out.
        """
        rng = np.random.default_rng(seed)
        known = np.isfinite(np.diag(self.cov_theta))
        theta = np.tile(self.theta, (n, 1))
        if known.any():
            block = self.cov_theta[np.ix_(known, known)]
            theta[:, known] = rng.multivariate_normal(
                self.theta[known], block, size=n, method="eigh"
            )
        return self.space.natural(theta)

    def scaled(self, dispersion: float) -> Estimate:
        """The same estimate with its covariance multiplied by `dispersion` (quasi-likelihood)."""
        diagnostics = {**self.diagnostics, "dispersion": float(dispersion)}
        return replace(self, cov_theta=self.cov_theta * dispersion, diagnostics=diagnostics)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2))


def maximize(
    loglike: Callable[[np.ndarray], float],
    params: Sequence[Param],
    start: Sequence[float],
    *,
    n_obs: int,
    what: str,
    bounds: dict | None = None,
    scales: dict | None = None,
    canonical: Callable[[np.ndarray], np.ndarray] | None = None,
    covariance: bool = True,
    score: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> Estimate:
    """Maximise `loglike` over the declared `params` and estimate the covariance.

    Parameters
    ----------
    loglike : callable
        Natural parameter vector -> total log-likelihood (may return -inf or
        NaN where the model is undefined: the optimiser backs off).
    params : sequence of Param
    start : sequence of float
        Starting natural values, inside each parameter's range.
    n_obs : int
        Number of observations (for the BIC and the objective's scaling).
    what : str
        What is being fitted, for warning messages.
    bounds : dict, optional
        ``name -> (lower, upper)`` narrowing declared ranges from the data.
    scales : dict, optional
        ``name -> typical magnitude`` of parameters on the whole real line.
    canonical : callable, optional
        Maps a natural vector to its canonical twin with the same likelihood
        (e.g. a symmetric form whose two time scales may swap).
    covariance : bool, default True
        Polish with Newton steps, estimate the covariance and warn about a
        doubtful fit. ``False`` runs the optimiser only (a first stage),
        silently, and leaves the covariance NaN.
    score : callable, optional
        Natural parameter vector -> ``(loglike, gradient)``, the gradient of the
        log-likelihood by the natural values (analytic). With it the optimiser uses exact
        gradients and the Hessian is the central difference of the gradient (``2 k``
        evaluations of `score` instead of ``O(k**2)`` of `loglike`); without it, both are
        finite differences of `loglike`.

    Returns
    -------
    Estimate
    """
    params = tuple(params)
    k = len(params)
    space = Space.of(params, bounds, scales)
    start = np.asarray(start, dtype=float)
    theta0 = space.working(start)
    if not np.all(np.isfinite(theta0)):
        bad = {
            p.name: float(x)
            for p, x, t in zip(params, start, theta0, strict=True)
            if not np.isfinite(t)
        }
        raise ValueError(f"starting values of {what} outside their ranges: {bad}")
    theta0 = np.clip(theta0, -_THETA_LIMIT + 1, _THETA_LIMIT - 1)
    scale = max(int(n_obs), 1)
    evaluations = 0

    def objective(theta):
        nonlocal evaluations
        evaluations += 1
        with np.errstate(all="ignore"):
            value = loglike(space.natural(theta))
        return -value / scale if np.isfinite(value) else _PENALTY

    def finite_objective(theta):
        value = objective(theta)
        return value if value < _PENALTY else np.nan

    def objective_and_gradient(theta):  # the objective and its gradient by theta
        nonlocal evaluations
        evaluations += 1
        natural = space.natural(theta)
        with np.errstate(all="ignore"):
            value, gradient = score(natural)
            gradient = -np.asarray(gradient, dtype=float) * space.jacobian(natural) / scale
        if not np.isfinite(value):
            return _PENALTY, np.zeros(k)
        return -value / scale, np.where(np.isfinite(gradient), gradient, 0.0)

    def finite_gradient(theta):
        value, gradient = objective_and_gradient(theta)
        return gradient if value < _PENALTY else np.full(k, np.nan)

    derivatives = None if score is None else (objective_and_gradient, finite_gradient)

    def to_canonical(theta):
        if canonical is None:
            return theta
        return np.clip(space.working(canonical(space.natural(theta))), -_THETA_LIMIT, _THETA_LIMIT)

    if objective(theta0) >= _PENALTY:
        raise ValueError(f"the likelihood of {what} is not finite at the starting values {start}")
    result = _minimize(objective, theta0, derivatives, scale)
    theta = to_canonical(result.x)
    diagnostics = {"n_evaluations": int(evaluations), "message": str(result.message)}
    if not covariance:
        nan = np.full((k, k), np.nan)
        loglike_hat = -objective(theta) * scale
        return Estimate(params, theta, nan, space, loglike_hat, int(n_obs), False, diagnostics)
    # Newton polish on the numerical Hessian: BFGS may stop early on a flat ridge. A
    # stationary point with negative curvature is a saddle: step off it along that direction
    # and optimise again (a few times at most).
    polish = (objective, finite_objective, scale, to_canonical, derivatives)
    theta, hessian, decrement = _polish(theta, *polish)
    for _ in range(3):
        escaped = _escape_saddle(theta, hessian, objective)
        if escaped is None:
            break
        result = _minimize(objective, escaped, derivatives, scale)
        theta = to_canonical(result.x)
        theta, hessian, decrement = _polish(theta, *polish)
    gradient = _gradient(theta, finite_objective, derivatives) * scale
    if not np.all(np.isfinite(hessian)):
        hessian = np.full((k, k), np.nan)
    cov, min_eig, cond = _invert(hessian)
    converged = bool(np.isfinite(decrement) and decrement < 1e-2)
    diagnostics = {
        "newton_decrement": float(decrement),
        "max_abs_gradient": float(np.max(np.abs(gradient))),
        "min_hessian_eigenvalue": float(min_eig),
        "condition_number": float(cond),
        "n_evaluations": int(evaluations),
        "message": str(result.message),
        "dispersion": 1.0,
    }
    loglike_hat = -objective(theta) * scale
    estimate = Estimate(params, theta, cov, space, loglike_hat, int(n_obs), converged, diagnostics)
    _warn_if_doubtful(estimate, what)
    return estimate


def _warn_if_doubtful(estimate: Estimate, what: str) -> None:
    d = estimate.diagnostics
    if not estimate.converged:
        warnings.warn(
            ConvergenceWarning(
                f"the fit of {what} did not converge; its estimates may not maximise the "
                "likelihood. Try a starting point (start=...) or a shorter window",
                newton_decrement=d["newton_decrement"],
                max_abs_gradient=d["max_abs_gradient"],
                optimiser=d["message"],
            ),
            stacklevel=4,
        )
    names = estimate.names
    bad = [n for n, v in zip(names, np.diag(estimate.cov_theta), strict=True) if not np.isfinite(v)]
    if bad:
        warnings.warn(
            CovarianceWarning(
                f"no standard errors for {', '.join(bad)} of {what}: the data do not identify "
                "them (the Hessian is not positive definite there, or their 95% interval would "
                "span more than a factor 100); what depends on them is conditional on the "
                "estimates. Try a simpler form or a longer window",
                min_hessian_eigenvalue=d["min_hessian_eigenvalue"],
                condition_number=d["condition_number"],
            ),
            stacklevel=4,
        )
    edge = estimate.space.at_edge(estimate.theta)
    if np.any(edge):
        values = {n: float(v) for n, v, e in zip(names, estimate.values, edge, strict=True) if e}
        ranges = {
            n: (float(lo), float(hi))
            for n, lo, hi, e in zip(
                names, estimate.space.lower, estimate.space.upper, edge, strict=True
            )
            if e
        }
        warnings.warn(
            BoundaryWarning(
                f"{', '.join(values)} of {what} at the edge of its range; its interval is "
                "doubtful and the form may not suit these data",
                values=values,
                ranges=ranges,
            ),
            stacklevel=4,
        )


def _minimize(objective, theta0, derivatives=None, scale=None):
    """BFGS on the unbounded working scale (the objective backs off from undefined regions).

    BFGS rather than L-BFGS-B: the problems are small, and L-BFGS-B's many tiny BLAS calls
    cost milliseconds each when the BLAS thread pool competes for a busy machine. With
    `derivatives` (the objective with its analytic gradient), no finite differences, and
    the search stops once :data:`_STALL_ITERATIONS` iterations in a row gained less than
    :data:`_STALL_GAIN` log-likelihood units in all (`scale`: the objective's divisor):
    where a flood's onset sits on an interval's edge the likelihood has a kink, and BFGS
    would crawl along it for hundreds of iterations gaining nothing that matters.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if derivatives is None:
            return optimize.minimize(
                objective, theta0, method="BFGS", options={"maxiter": 2000, "gtol": 1e-7}
            )
        history = []

        def stall(intermediate_result):
            history.append(float(intermediate_result.fun))
            if len(history) > _STALL_ITERATIONS and scale is not None:
                gained = (history[-1 - _STALL_ITERATIONS] - history[-1]) * scale
                if gained < _STALL_GAIN:
                    raise StopIteration

        return optimize.minimize(
            derivatives[0],
            theta0,
            jac=True,
            method="BFGS",
            callback=stall,
            options={"maxiter": 2000, "gtol": 1e-7},
        )


def _gradient(theta, finite_objective, derivatives):
    """Gradient of the (scaled) objective: analytic where there is one, else central
    differences."""
    if derivatives is not None:
        return derivatives[1](theta)
    return np.ravel(approx_fprime(theta, finite_objective, centered=True))


def _hessian(theta, finite_objective, derivatives):
    """Hessian of the (scaled) objective: central differences of the analytic gradient
    (symmetrised) where there is one, else ``approx_hess3`` of the objective."""
    if derivatives is None:
        return approx_hess3(theta, finite_objective)
    k = len(theta)
    hessian = np.empty((k, k))
    steps = np.finfo(float).eps ** (1 / 3) * np.maximum(np.abs(theta), 1.0)
    for j in range(k):
        up, down = theta.copy(), theta.copy()
        up[j] += steps[j]
        down[j] -= steps[j]
        hessian[:, j] = (derivatives[1](up) - derivatives[1](down)) / (up[j] - down[j])
    return (hessian + hessian.T) / 2


def _polish(theta, objective, finite_objective, scale, to_canonical, derivatives=None):
    """Newton steps with a backtracking line search, to a decrement below 1e-6."""
    k = len(theta)
    decrement, hessian = np.inf, np.full((k, k), np.nan)
    for _ in range(20):
        theta = to_canonical(theta)
        gradient = _gradient(theta, finite_objective, derivatives) * scale
        hessian = _hessian(theta, finite_objective, derivatives) * scale
        if not (np.all(np.isfinite(gradient)) and np.all(np.isfinite(hessian))):
            break
        step, decrement = _newton_step(hessian, gradient)
        if decrement < 1e-6:
            break
        f0 = objective(theta)
        for shrink in 0.5 ** np.arange(12):
            candidate = theta - shrink * step
            if np.all(np.abs(candidate) < _THETA_LIMIT) and objective(candidate) < f0:
                theta = candidate
                break
        else:
            break
    return theta, hessian, decrement


def _escape_saddle(theta, hessian, objective):
    """A better point along the most negative curvature of the objective, or None."""
    if not np.all(np.isfinite(hessian)):
        return None
    eigval, eigvec = np.linalg.eigh((hessian + hessian.T) / 2)
    if eigval[0] >= -1e-8 * np.max(np.abs(eigval)):
        return None
    f0 = objective(theta)
    for size in (1.0, 0.3, 0.1, 0.03):
        for sign in (1.0, -1.0):
            candidate = theta + sign * size * eigvec[:, 0]
            if np.all(np.abs(candidate) < _THETA_LIMIT) and objective(candidate) < f0:
                return candidate
    return None


def _newton_step(hessian, gradient):
    """Newton step and decrement; a positive-definite repair if the Hessian is not."""
    eigval, eigvec = np.linalg.eigh((hessian + hessian.T) / 2)
    floor = max(1e-8 * np.max(np.abs(eigval)), 1e-12)
    eigval = np.maximum(np.abs(eigval), floor)
    step = eigvec @ ((eigvec.T @ gradient) / eigval)
    return step, float(gradient @ step / 2)


def _invert(hessian):
    """Covariance from the Hessian; NaN rows for directions that are not identified."""
    k = hessian.shape[0]
    if not np.all(np.isfinite(hessian)):
        return np.full((k, k), np.nan), np.nan, np.nan
    sym = (hessian + hessian.T) / 2
    eigval, eigvec = np.linalg.eigh(sym)
    top = np.max(np.abs(eigval))
    cond = top / np.min(np.abs(eigval)) if np.min(np.abs(eigval)) > 0 else np.inf
    good = eigval > 1e-10 * top
    if np.all(good):
        return np.linalg.inv(sym), float(eigval[0]), float(cond)
    cov = eigvec[:, good] @ np.diag(1 / eigval[good]) @ eigvec[:, good].T
    involved = np.any(np.abs(eigvec[:, ~good]) > 1e-3, axis=1)
    cov[involved, :] = np.nan
    cov[:, involved] = np.nan
    return cov, float(eigval[0]), float(cond)


def nb_loglike(
    y: np.ndarray, mu: np.ndarray, alpha: float, log_y_factorial: np.ndarray | None = None
) -> np.ndarray:
    """Negative-binomial (NB2) log-probabilities: mean ``mu``, variance ``mu + alpha mu**2``.

    ``scipy.stats.nbinom.logpmf(y, n, n / (n + mu))`` with ``n = 1 / alpha``, written
    out (three times faster: it is the inner loop of every count fit); pass
    ``log_y_factorial = gammaln(y + 1)`` when the same counts are evaluated often.
    """
    n = 1.0 / alpha
    lyf = special.gammaln(y + 1) if log_y_factorial is None else log_y_factorial
    return (
        special.gammaln(y + n)
        - special.gammaln(n)
        - lyf
        + n * np.log(n / (n + mu))
        + special.xlogy(y, mu / (n + mu))
    )


def fit_mean_counts(
    mean_counts: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    params: Sequence[Param],
    start: Sequence[float],
    *,
    what: str,
    bounds: dict | None = None,
    canonical: Callable[[np.ndarray], np.ndarray] | None = None,
    max_iter: int = 50,
    covariance: bool = True,
    jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Estimate:
    """A mean curve of counts by Poisson quasi-likelihood, then NB2's alpha, from a near start.

    Parameters
    ----------
    mean_counts : callable
        Natural values of the curve's parameters -> expected count of each of `y`.
    y : numpy.ndarray
        Observed counts (no NaN).
    params : sequence of Param
        The curve's parameters, then ``alpha`` (variance ``mu + alpha mu**2``).
    start : sequence of float
        Natural starting values of the curve's parameters (no alpha), inside their
        ranges, near the maximum (the same curve fitted to the counts summed into
        coarser intervals).
    what, bounds, canonical
        As for :func:`maximize`.
    max_iter : int, default 50
    covariance : bool, default True
        ``False``: the curve only (a structure search), silently: the estimate's
        parameters leave alpha out, its ``loglike`` is the Poisson one, its covariance NaN.
    jacobian : callable, optional
        Natural values of the curve's parameters -> ``(mean counts, d mean / d natural
        values)`` (counts by parameters), analytic; without it ``J`` is found by central
        differences (``2 k`` evaluations of `mean_counts`).

    Returns
    -------
    Estimate
        ``loglike`` is the NB2 log-likelihood at the curve and alpha; the covariance of
        the curve's parameters is the sandwich under NB2's variance.

    Notes
    -----
    The curve maximises the Poisson log-likelihood: its estimating equation
    ``J' (y - mu) / mu = 0`` (``J = d mu / d theta``) is unbiased whatever the
    variance, so the curve is consistent even where its noise is not NB2, and it
    weighs each interval by its count, so the busy intervals (the crest a plan is
    sized on) steer the curve. NB2's likelihood instead weighs each interval by
    ``1 / (mu (1 + alpha mu))``, every interval alike once ``alpha mu`` is large: a
    long quiet tail then counts as much as the crest, and alpha absorbs the misfit.
    It is maximised by Fisher scoring (``J`` from `jacobian`, or by central differences
    on the working scale; a step moves no working value by more than 1, a factor e on a
    log scale, and is halved until the likelihood rises; it stops when the next step would
    gain less than 0.001, or, in a structure search, when ten steps gained less than
    0.001 in all). ``alpha`` is then NB2's maximum
    likelihood with the curve held, its variance the inverse of the second
    derivative. The curve's covariance is ``A^-1 B A^-1`` with ``A = J' J / mu`` and
    ``B = J' diag(v / mu**2) J``, ``v = mu + alpha mu**2``: honest under
    over-dispersion, where ``A^-1`` alone would be far too narrow.
    """
    params = tuple(params)
    k = len(params) - 1
    space = Space.of(params, bounds)
    curve_space = Space(space.lower[:k], space.upper[:k], space.scale[:k])
    theta = curve_space.working(np.asarray(start, dtype=float))
    if not np.all(np.isfinite(theta)):
        raise ValueError(f"starting values of {what} outside their ranges: {list(start)}")
    theta = np.clip(theta, -_THETA_LIMIT + 1, _THETA_LIMIT - 1)
    y = np.asarray(y, dtype=float)
    evaluations = 0

    def mu_of(th):
        nonlocal evaluations
        evaluations += 1
        with np.errstate(all="ignore"):
            return np.maximum(mean_counts(curve_space.natural(th)), 1e-300)

    def poisson(mu):
        value = float(np.sum(special.xlogy(y, mu) - mu))
        return value if np.isfinite(value) else -np.inf

    def to_canonical(th):
        if canonical is None:
            return th
        natural = canonical(np.append(curve_space.natural(th), 1.0))[:k]
        return np.clip(curve_space.working(natural), -_THETA_LIMIT, _THETA_LIMIT)

    def jacobian_of(th):  # (counts, parameters) on the working scale
        if jacobian is None:  # central differences
            return np.reshape(approx_fprime(th, mu_of, centered=True), (len(y), k))
        nonlocal evaluations
        evaluations += 1
        natural = curve_space.natural(th)
        with np.errstate(all="ignore"):
            mu_j, jac_j = jacobian(natural)
            jac_j = np.asarray(jac_j, dtype=float) * curve_space.jacobian(natural)
        floored = np.asarray(mu_j) <= 1e-300  # mu_of clips these: no derivative
        if np.any(floored):
            jac_j[floored] = 0.0
        return jac_j

    mu = mu_of(theta)
    current = poisson(mu)
    if not np.isfinite(current):
        raise ValueError(f"the likelihood of {what} is not finite at the starting values {start}")
    decrement = np.inf
    history = [current]
    for iteration in range(max_iter + 1):
        if not covariance and len(history) > _STALL_ITERATIONS:
            if history[-1] - history[-1 - _STALL_ITERATIONS] < _STALL_GAIN:
                break  # a structure search: crawling, as BFGS does along a kink
        jac = jacobian_of(theta)
        score = jac.T @ (y / mu - 1.0)
        info = jac.T @ (jac / mu[:, None])
        if iteration == max_iter or not (np.all(np.isfinite(score)) and np.all(np.isfinite(info))):
            break
        step, decrement = _scoring_step(info, score)
        if decrement < _SCORING_TOLERANCE:
            break
        step = step * min(1.0, _MAX_STEP / max(float(np.max(np.abs(step))), 1e-300))
        for shrink in 0.5 ** np.arange(12):
            candidate = to_canonical(np.clip(theta + shrink * step, -_THETA_LIMIT, _THETA_LIMIT))
            mu_c = mu_of(candidate)
            value = poisson(mu_c)
            if value > current:
                theta, mu, current = candidate, mu_c, value
                history.append(current)
                break
        else:
            break  # no step gains: jac, score and info are still those of theta
    if not covariance:
        nan = np.full((k, k), np.nan)
        diagnostics = {"n_evaluations": int(evaluations), "newton_decrement": float(decrement)}
        return Estimate(params[:k], theta, nan, curve_space, current, len(y), False, diagnostics)
    log_alpha, alpha_var = _nb_alpha(y, mu)
    meat = jac.T @ (jac * ((mu + np.exp(log_alpha) * mu**2) / mu**2)[:, None])
    bread, min_eig, cond = _invert(info)
    cov = np.zeros((k + 1, k + 1))  # the curve and alpha are orthogonal
    cov[:k, :k] = bread @ meat @ bread if np.all(np.isfinite(bread)) else bread
    cov[k, k] = alpha_var
    with np.errstate(invalid="ignore"):
        spread = np.sqrt(np.diag(cov))
    # A 95% interval spanning more than a factor 100 on a log or logit scale is no result:
    # such a parameter counts as not identified (NaN, and the warning names it).
    scaled = np.isfinite(space.lower) | np.isfinite(space.upper)
    bad = ~np.isfinite(spread) | (scaled & (spread > _WILD_SD))
    cov[bad, :] = np.nan
    cov[:, bad] = np.nan
    theta_full = np.append(theta, log_alpha)  # alpha's working value is its log
    alpha = float(np.exp(log_alpha))
    loglike = float(np.sum(nb_loglike(y, mu, alpha)))
    converged = bool(np.isfinite(decrement) and decrement < 1e-2)
    diagnostics = {
        "newton_decrement": float(decrement),
        "max_abs_gradient": float(np.max(np.abs(score))),
        "min_hessian_eigenvalue": float(min_eig),
        "condition_number": float(cond),
        "n_evaluations": int(evaluations),
        "message": "Poisson quasi-likelihood by Fisher scoring; NB2 alpha with the curve held",
        "dispersion": 1.0,
    }
    estimate = Estimate(params, theta_full, cov, space, loglike, len(y), converged, diagnostics)
    _warn_if_doubtful(estimate, what)
    return estimate


def _scoring_step(info, score):
    """Fisher-scoring step and its decrement, in the directions the data identify only.

    A direction of (near) zero information (a flood whose share is ~0 leaves its time
    scales free) would take an unbounded step; it is left where it is instead.
    """
    eigval, eigvec = np.linalg.eigh((info + info.T) / 2)
    keep = eigval > 1e-9 * max(float(np.max(np.abs(eigval))), 1e-300)
    projected = eigvec[:, keep].T @ score
    step = eigvec[:, keep] @ (projected / eigval[keep])
    return step, float(score @ step / 2)


def _nb_alpha(y, mu) -> tuple[float, float]:
    """NB2's log alpha by maximum likelihood with the means held, and its variance."""
    lyf = special.gammaln(y + 1)

    def negative(log_alpha):
        return -float(np.sum(nb_loglike(y, mu, math.exp(log_alpha), lyf)))

    found = optimize.minimize_scalar(negative, bounds=(-18.0, 4.0), method="bounded")
    x, h = float(found.x), 1e-3
    curvature = (negative(x + h) - 2 * negative(x) + negative(x - h)) / h**2
    return x, (1.0 / curvature if curvature > 0 else np.nan)


def nb_deviance(y: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    """Unit deviances of NB2 counts (``statsmodels``' ``NegativeBinomial`` family)."""
    from statsmodels.genmod.families import NegativeBinomial

    return NegativeBinomial(alpha=alpha).resid_dev(y, mu) ** 2
