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

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


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

    def start(self, mean_s):
        return {"mean_s": mean_s}


DISTRIBUTIONS = {d.name: d for d in (LogNormal(), Weibull(), Gamma(), Exponential())}
"""The session-length distributions by name."""
