"""Session-length distributions, each a small declaration on the fitting base.

A distribution declares ``name``, its ``params`` (:class:`Param`: name,
unit, range), a starting point from a rough mean, and two core functions of
the session length ``x`` (s): the distribution function ``cdf`` and the
partial mean ``E[S; S <= x]``. Everything the session and concurrency models
need follows:

- ``survival(x) = 1 - cdf(x)``;
- ``integrated_survival(x) = E[min(S, x)] = x (1 - F(x)) + E[S; S <= x]``,
  the integral of the survival from 0 to ``x``: with it, exact interval
  averages of a piecewise-constant join rate against the survival
  (concurrency) and of uniform joins within an interval (leaves);
- ``mean``: the partial mean at infinity.

For the fits' analytic gradients, a distribution may also declare the derivatives of
``integrated_survival``, ``cdf`` and ``mean`` by its parameters
(:meth:`SessionDistribution.integrated_survival_gradient` and the like); by default
they are central differences of the closed forms (to some 1e-8), and the shipped
distributions give them in closed form where one exists. For a scale parameter ``s``,
``d H / d log s`` is the partial mean ``E[S; S <= x]``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from capplan.models._fitting import Param

__all__ = ["DISTRIBUTIONS", "Exponential", "Gamma", "LogNormal", "SessionDistribution", "Weibull"]


class SessionDistribution:
    """Declaration of a session-length distribution (lengths in seconds)."""

    name: str = "distribution"
    params: tuple[Param, ...] = ()

    def cdf(self, x, p: dict) -> np.ndarray:
        """P(S <= x)."""
        raise NotImplementedError

    def partial_mean(self, x, p: dict) -> np.ndarray:
        """E[S; S <= x] (s)."""
        raise NotImplementedError

    def mean(self, p: dict) -> float:
        """E[S] (s)."""
        raise NotImplementedError

    def median(self, p: dict) -> float:
        """Median session length (s)."""
        raise NotImplementedError

    def start(self, mean_s: float) -> dict:
        """Starting values for sessions averaging about `mean_s` seconds."""
        raise NotImplementedError

    def survival(self, x, p: dict) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.where(x <= 0, 1.0, 1.0 - self.cdf(np.maximum(x, 0.0), p))

    def integrated_survival(self, x, p: dict) -> np.ndarray:
        """E[min(S, x)] = integral of the survival over [0, x] (s); 0 for x <= 0."""
        x = np.asarray(x, dtype=float)
        y = np.maximum(x, 0.0)
        return np.where(x <= 0, 0.0, y * self.survival(y, p) + self.partial_mean(y, p))

    # -- derivatives by the parameters (natural units), for the fits' gradients ---------------

    def integrated_survival_gradient(self, x, p: dict) -> tuple[np.ndarray, np.ndarray]:
        """``integrated_survival(x)`` and its derivatives, ``(len(x), len(params))``."""
        return self.integrated_survival(x, p), _differences(self.integrated_survival, x, p, self)

    def cdf_gradient(self, x, p: dict) -> tuple[np.ndarray, np.ndarray]:
        """``P(S <= x)`` (0 for ``x <= 0``) and its derivatives, ``(len(x), len(params))``."""

        def cdf(y, q):
            return 1.0 - self.survival(y, q)

        return cdf(x, p), _differences(cdf, x, p, self)

    def mean_gradient(self, p: dict) -> tuple[float, np.ndarray]:
        """``mean`` and its derivatives by the parameters."""

        def mean(_, q):
            return np.atleast_1d(self.mean(q))

        return float(self.mean(p)), _differences(mean, np.zeros(1), p, self)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _differences(func, x, p: dict, dist: SessionDistribution, relative=1e-4, only=None):
    """Central differences of ``func(x, p)`` by each parameter (or those named in `only`),
    ``(len(x), number of parameters)``."""
    x = np.asarray(x, dtype=float)
    names = [q.name for q in dist.params] if only is None else list(only)
    out = np.empty((x.size, len(names)))
    for j, name in enumerate(names):
        param = next(q for q in dist.params if q.name == name)
        h = relative * max(abs(p[param.name]), 1e-3)
        up, down = {**p, param.name: p[param.name] + h}, {**p, param.name: p[param.name] - h}
        out[:, j] = (np.ravel(func(x, up)) - np.ravel(func(x, down))) / (2 * h)
    return out


class LogNormal(SessionDistribution):
    """Log-normal: ``log S ~ N(log median, sigma**2)``; heavy-tailed, the default guess."""

    name = "lognormal"
    params = (
        Param("median_s", "s", description="median session length"),
        Param("sigma", "1", 0.0, 6.0, "standard deviation of log session length"),
    )

    def cdf(self, x, p):
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(x) - math.log(p["median_s"])) / p["sigma"])

    def partial_mean(self, x, p):
        mu, sigma = math.log(p["median_s"]), p["sigma"]
        with np.errstate(divide="ignore"):
            z = (np.log(x) - mu - sigma**2) / sigma
        return np.exp(mu + sigma**2 / 2) * special.ndtr(z)

    def mean(self, p):
        return p["median_s"] * np.exp(p["sigma"] ** 2 / 2)

    def median(self, p):
        return p["median_s"]

    def _z(self, x, p):
        x = np.asarray(x, dtype=float)
        y = np.where(x > 0, x, 1.0)
        z = (np.log(y) - math.log(p["median_s"])) / p["sigma"]
        return x, z, np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)

    def integrated_survival_gradient(self, x, p):
        # H = x (1 - F) + PM: d H / d log median = PM, d H / d sigma = sigma PM - x phi(z).
        x, z, phi = self._z(x, p)
        median, sigma = p["median_s"], p["sigma"]
        inside = x > 0
        partial = np.where(inside, self.mean(p) * special.ndtr(z - sigma), 0.0)
        h = np.where(inside, x * special.ndtr(-z) + partial, 0.0)
        grad = np.empty((x.size, 2))
        grad[:, 0] = np.ravel(partial / median)
        grad[:, 1] = np.ravel(np.where(inside, sigma * partial - x * phi, 0.0))
        return h, grad

    def cdf_gradient(self, x, p):
        x, z, phi = self._z(x, p)
        inside = x > 0
        grad = np.empty((x.size, 2))
        grad[:, 0] = np.ravel(np.where(inside, -phi / (p["sigma"] * p["median_s"]), 0.0))
        grad[:, 1] = np.ravel(np.where(inside, -z * phi / p["sigma"], 0.0))
        return np.where(inside, special.ndtr(z), 0.0), grad

    def mean_gradient(self, p):
        mean = float(self.mean(p))
        return mean, np.array([mean / p["median_s"], p["sigma"] * mean])

    def start(self, mean_s):
        return {"median_s": mean_s / math.exp(0.5), "sigma": 1.0}


class Weibull(SessionDistribution):
    """Weibull: ``P(S > x) = exp(-(x / scale)**shape)``."""

    name = "weibull"
    params = (
        Param("scale_s", "s", description="Weibull scale (63rd percentile)"),
        Param("shape", "1", 0.0, 20.0, "Weibull shape (< 1: decreasing hazard)"),
    )

    def cdf(self, x, p):
        return -np.expm1(-((x / p["scale_s"]) ** p["shape"]))

    def partial_mean(self, x, p):
        a = 1 + 1 / p["shape"]
        return (
            p["scale_s"] * special.gamma(a) * special.gammainc(a, (x / p["scale_s"]) ** p["shape"])
        )

    def mean(self, p):
        return p["scale_s"] * special.gamma(1 + 1 / p["shape"])

    def median(self, p):
        return p["scale_s"] * math.log(2) ** (1 / p["shape"])

    def integrated_survival_gradient(self, x, p):
        # The scale in closed form (d H / d log scale = PM); the shape by differences.
        x = np.asarray(x, dtype=float)
        y = np.maximum(x, 0.0)
        partial = self.partial_mean(y, p)
        h = np.where(x <= 0, 0.0, y * self.survival(y, p) + partial)
        grad = np.empty((x.size, 2))
        grad[:, 0] = np.ravel(np.where(x <= 0, 0.0, partial / p["scale_s"]))
        grad[:, 1:] = _differences(self.integrated_survival, x, p, self, only=("shape",))
        return h, grad

    def cdf_gradient(self, x, p):
        x = np.asarray(x, dtype=float)
        y = np.maximum(x, 0.0)
        scale, shape = p["scale_s"], p["shape"]
        v = (y / scale) ** shape
        tail = np.exp(-v)
        with np.errstate(divide="ignore", invalid="ignore"):
            by_shape = np.where(y > 0, v * np.log(y / scale) * tail, 0.0)
        grad = np.empty((x.size, 2))
        grad[:, 0] = np.ravel(-shape / scale * v * tail)
        grad[:, 1] = np.ravel(by_shape)
        return np.where(x <= 0, 0.0, -np.expm1(-v)), grad

    def mean_gradient(self, p):
        a = 1 + 1 / p["shape"]
        mean = float(self.mean(p))
        return mean, np.array([mean / p["scale_s"], -mean * special.digamma(a) / p["shape"] ** 2])

    def start(self, mean_s):
        return {"scale_s": mean_s, "shape": 1.0}


class Gamma(SessionDistribution):
    """Gamma: shape ``k``, scale ``theta`` (mean ``k theta``)."""

    name = "gamma"
    params = (
        Param("shape", "1", 0.0, 200.0, "gamma shape"),
        Param("scale_s", "s", description="gamma scale"),
    )

    def cdf(self, x, p):
        return special.gammainc(p["shape"], x / p["scale_s"])

    def partial_mean(self, x, p):
        return p["shape"] * p["scale_s"] * special.gammainc(p["shape"] + 1, x / p["scale_s"])

    def mean(self, p):
        return p["shape"] * p["scale_s"]

    def median(self, p):
        return float(stats.gamma.ppf(0.5, p["shape"], scale=p["scale_s"]))

    def start(self, mean_s):
        return {"shape": 1.0, "scale_s": mean_s}


class Exponential(SessionDistribution):
    """Exponential (memoryless) sessions: a one-parameter reference."""

    name = "exponential"
    params = (Param("mean_s", "s", description="mean session length"),)

    def cdf(self, x, p):
        return -np.expm1(-x / p["mean_s"])

    def partial_mean(self, x, p):
        m = p["mean_s"]
        return m * -np.expm1(-x / m) - x * np.exp(-x / m)

    def mean(self, p):
        return p["mean_s"]

    def median(self, p):
        return p["mean_s"] * math.log(2)

    def integrated_survival_gradient(self, x, p):
        x = np.asarray(x, dtype=float)
        y, m = np.maximum(x, 0.0), p["mean_s"]
        arrived = -np.expm1(-y / m)
        grad = np.reshape(arrived - y / m * np.exp(-y / m), (-1, 1))
        return np.where(x <= 0, 0.0, m * arrived), grad

    def cdf_gradient(self, x, p):
        x = np.asarray(x, dtype=float)
        y, m = np.maximum(x, 0.0), p["mean_s"]
        grad = np.reshape(-y / m**2 * np.exp(-y / m), (-1, 1))
        return np.where(x <= 0, 0.0, -np.expm1(-y / m)), grad

    def mean_gradient(self, p):
        return float(p["mean_s"]), np.array([1.0])

    def start(self, mean_s):
        return {"mean_s": mean_s}


DISTRIBUTIONS = {d.name: d for d in (LogNormal(), Weibull(), Gamma(), Exponential())}
"""The session-length distributions by name."""
