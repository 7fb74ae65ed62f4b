"""Floods: a lobby ramp, then one or more floods, on a background that may drift.

Real floods are messier than one curve: several crests (a goal, the second wave of
an announcement), onsets that are not sharp, a background that drifts through the
hours of a trace. :class:`Floods` declares such a shape as a small form on the
join curve's fitting base:

.. math::

    \\lambda(t) = b\\,e^{\\beta t / 3600}
        + A\\Big[\\pi\\,\\frac{\\ell(t)}{N} + (1-\\pi) \\sum_{j=1}^{K} w_j f_j(t)\\Big]

- ``b e^{beta t/3600}``: the background, ``b`` (``background_per_s``) its rate at the
  start and ``beta`` (``background_drift_per_h``) its log-change per hour (held at 0
  unless the drift is chosen);
- ``l(t)/N``: the lobby of :class:`~capplan.models.join_forms.LobbyFlood`, an
  exponential ramp of time scale ``ramp_s`` up to the first flood's onset, holding a
  share ``pi`` (``lead_share``) of the audience;
- ``f_j``: flood ``j``, a difference of exponentials from its onset ``tau_j``
  (``surge_time_s``, ``surge_time_2_s``, ...) with rise ``r_j`` and decay ``d_j``, as
  in :class:`~capplan.models.join_forms.LobbyFlood`;
- ``w_j``: the floods' shares of the audience after the lobby, by stick breaking: flood
  ``j >= 2`` takes a share ``share_j`` of the floods up to it, so every share lies in
  (0, 1) and the weights sum to one.

With one flood and no drift this is exactly :class:`LobbyFlood`, with the same
parameter names.

How many floods: ``Floods()`` (the default of :func:`~capplan.fit_join_curve`) is
first fitted with one flood; a flood is then added at the largest crest the fit
misses (the most prominent peak of the smoothed residual rate), and a drifting
background tried, each kept only where it lowers the quasi-AIC, up to ``max_k`` floods.
``Floods(k=2, drift=False)`` fits that form and no other.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, signal, special

from capplan.models._fitting import Param
from capplan.models.join_forms import (
    JoinCurveForm,
    LobbyFlood,
    _flood_density,
    _flood_mode,
    _flood_survival,
    _flood_terms,
    _peaks_by_chunks,
    flood_bounds,
    flood_params,
)

__all__ = ["Floods"]

_HOUR_S = 3600.0
_DRIFT_PER_H = 3.0  # |drift| bound: a background changing 20-fold within an hour is a flood
_LOBBY = LobbyFlood()


def _flood_params(j: int) -> tuple[Param, ...]:
    share = Param(f"share_{j}", "share", 0.0, 1.0, f"share flood {j} takes of the floods up to it")
    return (share, *flood_params(j))


_DRIFT = Param(
    "background_drift_per_h",
    "1/h",
    -_DRIFT_PER_H,
    _DRIFT_PER_H,
    "log-change of the background per hour",
)


class Floods(JoinCurveForm):
    """A lobby ramp, then ``k`` floods, on a background that may drift.

    See the module's docstring for the curve.

    Parameters
    ----------
    k : int, optional
        Number of floods; chosen by quasi-AIC (1 to `max_k`) when None.
    drift : bool, optional
        Whether the background drifts (``b e^{beta t / 3600}``); chosen by quasi-AIC when None.
    max_k : int, default 4
        Most floods tried when `k` is None.

    Examples
    --------
    >>> Floods(k=2).param_names[-4:]
    ['share_2', 'surge_time_2_s', 'rise_2_s', 'decay_2_s']
    """

    def __init__(self, k: int | None = None, drift: bool | None = None, max_k: int = 4):
        for name, value in (("k", k), ("max_k", max_k)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
            ):
                raise ValueError(f"{name} must be a whole number >= 1 (floods), got {value!r}")
        if drift is not None and not isinstance(drift, bool):
            raise ValueError(f"drift must be True, False or None (choose), got {drift!r}")
        self.target_k, self.target_drift = k, drift
        self.max_k = int(max_k) if k is None else int(k)
        self._shape(1 if k is None else int(k), bool(drift))

    def _shape(self, k: int, drift: bool) -> None:
        self.k, self.drift = k, drift
        self.params = (
            *_LOBBY.params,
            *(p for j in range(2, k + 1) for p in _flood_params(j)),
            *((_DRIFT,) if drift else ()),
        )
        floods = "1 flood" if k == 1 else f"{k} floods"
        self.name = f"lobby + {floods}" + (", drifting background" if drift else "")

    @property
    def param_names(self) -> list[str]:
        return [p.name for p in self.params]

    def __repr__(self) -> str:
        return f"Floods(k={self.k}, drift={self.drift})"

    def _grown(self, k: int, drift: bool) -> Floods:
        form = Floods(self.target_k, self.target_drift, self.max_k)
        form._shape(k, drift)
        return form

    def first(self) -> Floods:
        """The form the fit starts from: one flood, a constant background."""
        return self._grown(1, False)

    # -- the shape ------------------------------------------------------------------------------

    def _floods(self, p):
        """(onset, rise, decay, weight) of each flood."""
        onset, rise, decay, weight = self._flood_arrays(p)
        return list(zip(onset, rise, decay, weight, strict=True))

    def _flood_arrays(self, p):
        """Onsets, rises, decays and weights of the floods, as arrays (one row a flood; each
        row shaped as the parameters are, where they are arrays)."""
        names = [
            (f"surge_time{t}_s", f"rise{t}_s", f"decay{t}_s")
            for t in ("", *(f"_{j}" for j in range(2, self.k + 1)))
        ]
        onset, rise, decay = (np.array([p[n[i]] for n in names], dtype=float) for i in range(3))
        weights, rest = [None] * self.k, np.ones(np.shape(p["surge_time_s"]))
        for j in range(self.k, 1, -1):
            weights[j - 1] = p[f"share_{j}"] * rest
            rest = rest * (1.0 - p[f"share_{j}"])
        weights[0] = rest
        return onset, rise, decay, np.array(weights, dtype=float)

    def _lobby(self, p):
        return {
            "lead_share": 1.0,
            **{n: p[n] for n in ("ramp_s", "surge_time_s", "rise_s", "decay_s")},
        }

    def cdf(self, t, p):
        t = np.asarray(t, dtype=float)
        onset, rise, decay, weights = self._flood_arrays(p)
        with np.errstate(all="ignore"):
            survival = _flood_survival(t - onset[:, None], rise[:, None], decay[:, None])
            floods = np.einsum("j,jn->n", weights, 1.0 - survival)
            pi = p["lead_share"]
            return pi * _LOBBY.lead_cdf(t, self._lobby(p)) + (1.0 - pi) * floods

    def cdf_gradient(self, t, p):
        t = np.asarray(t, dtype=float)
        pi = p["lead_share"]
        onset, rise, decay, weights = self._flood_arrays(p)
        names = self.param_names
        rows = np.empty((len(names), len(t)))  # one row a parameter: d cdf / d parameter
        lobby, grads = _LOBBY.lead_cdf_gradient(t, self._lobby(p))
        with np.errstate(all="ignore"):
            survival, density, d_rise, d_decay = _flood_terms(
                t - onset[:, None], rise[:, None], decay[:, None]
            )
            arrived = 1.0 - survival  # (floods, times)
            floods = np.einsum("j,jn->n", weights, arrived)
            scale = ((1.0 - pi) * weights)[:, None]
            index = self._index
            rows[index["surge"]] = -scale * density
            rows[index["rise"]] = -scale * d_rise
            rows[index["decay"]] = -scale * d_decay
            rows[names.index("ramp_s")] = 0.0
            for name, g in grads.items():  # the lobby's: its ramp, the first flood's times
                rows[names.index(name)] += pi * g
            rows[names.index("lead_share")] = lobby - floods
            if self.k > 1:
                shares = [p[f"share_{j}"] for j in range(2, self.k + 1)]
                d_weights = np.array([_stick_derivatives(shares, j) for j in range(2, self.k + 1)])
                rows[index["share"]] = (1.0 - pi) * np.einsum("sj,jn->sn", d_weights, arrived)
            if self.drift:
                rows[names.index(_DRIFT.name)] = 0.0
        return pi * lobby + (1.0 - pi) * floods, rows.T

    @property
    def _index(self) -> dict:
        """Rows of each flood's parameters in :meth:`cdf_gradient` (flood order)."""
        names = self.param_names
        tags = ("", *(f"_{j}" for j in range(2, self.k + 1)))
        return {
            "surge": [names.index(f"surge_time{t}_s") for t in tags],
            "rise": [names.index(f"rise{t}_s") for t in tags],
            "decay": [names.index(f"decay{t}_s") for t in tags],
            "share": [names.index(f"share_{j}") for j in range(2, self.k + 1)],
        }

    def background_gradient(self, edges, b, p):
        if not self.drift:
            return super().background_gradient(edges, b, p)
        beta = p["background_drift_per_h"] / _HOUR_S
        width = _widths(edges)  # one number on a regular grid (the fits')
        with np.errstate(all="ignore"):
            grow = np.exp(beta * edges[:-1])
            x = beta * width
            rel = special.exprel(x)
            per_b = width * grow * rel
            # d/d beta of w e^{beta a} exprel(beta w) = w e^{beta a} (a exprel(x) + w exprel'(x))
            d_beta = b * width * grow * (edges[:-1] * rel + width * _d_exprel(x))
        return b * per_b, per_b, {_DRIFT.name: d_beta / _HOUR_S}

    def density(self, t, p):
        # The parameters may be arrays that broadcast against `t` (see ``peaks``).
        t = np.asarray(t, dtype=float)
        onset, rise, decay, weights = self._flood_arrays(p)
        # One axis a flood, then those of the times and parameters broadcast together.
        onset, rise, decay, weights = (
            np.reshape(a, a.shape + (1,) * max(t.ndim + 1 - a.ndim, 0))
            for a in (onset, rise, decay, weights)
        )
        with np.errstate(all="ignore"):
            flood = _flood_density(t - onset, rise, decay)
            floods = np.einsum("j...,j...->...", weights, flood)
            pi = p["lead_share"]
            return pi * _LOBBY.density(t, self._lobby(p)) + (1.0 - pi) * floods

    def background_counts(self, edges, b, p):
        beta = p.get("background_drift_per_h", 0.0) / _HOUR_S
        width = _widths(edges)
        with np.errstate(all="ignore"):
            return b * width * np.exp(beta * edges[:-1]) * special.exprel(beta * width)

    def background_rate(self, t, b, p):
        beta = p.get("background_drift_per_h", 0.0) / _HOUR_S
        with np.errstate(all="ignore"):
            return b * np.exp(beta * np.asarray(t, dtype=float))

    def bounds(self, t0, t1, interval_s):
        out = _LOBBY.bounds(t0, t1, interval_s)
        for j in range(2, self.k + 1):
            out.update(flood_bounds(t0, t1, j))
        return out

    def canonical(self, p):
        p = dict(p)
        for rise, decay in [("rise_s", "decay_s")] + [
            (f"rise_{j}_s", f"decay_{j}_s") for j in range(2, self.k + 1)
        ]:
            if p[rise] > p[decay]:
                p[rise], p[decay] = p[decay], p[rise]
        return p

    def start(self, t, excess, interval_s, peak_s):
        # Only the first form (one flood) starts from the data; larger ones grow from it.
        return _LOBBY.start(t, excess, interval_s, peak_s)

    def peak(self, p, t0, t1, precise=True):
        # Candidates: a grid over the window, the lobby's end and each flood's maximum (a
        # sharp flood can fall between grid points); the best is refined locally.
        grid = np.linspace(t0, t1, 20_001 if precise else 2_001)
        modes = [tau + _flood_mode(r, d) for tau, r, d, _ in self._floods(p)]
        points = np.concatenate([grid, [p["surge_time_s"]], modes])
        values = self.density(points, p)
        i = int(np.nanargmax(values))
        best_t, best = float(points[i]), float(values[i])
        if precise:
            h = (t1 - t0) / 20_000
            found = optimize.minimize_scalar(
                lambda u: -float(self.density(np.array([u]), p)[0]),
                bounds=(best_t - h, best_t + h),
                method="bounded",
            )
            if -found.fun > best:
                best_t, best = float(found.x), float(-found.fun)
        return best_t, best

    def peaks(self, shapes, t0, t1):
        """:meth:`peak` (``precise=False``) of many parameter sets at once.

        `shapes` maps each parameter's name to an array of values, one a set; returns the
        times (s) and values (per s) of the maxima, arrays. The candidates are those of
        :meth:`peak` less the grid's points before the first of the lobby's end and the
        floods' maxima, or after the last (of all the sets in a chunk): each part of the
        density rises up to its maximum and falls after it, so the density rises up to the
        first and falls after the last, and points outside never top them.
        """
        grid = np.linspace(t0, t1, 2_001)

        def candidates(p):  # the grid between the sets' first and last maximum, the maxima
            onset, rise, decay, _ = self._flood_arrays(p)
            ends = np.concatenate(
                [p["surge_time_s"], (onset + _flood_mode(rise, decay))[..., 0].T], 1
            )
            first, last = np.min(ends), np.max(ends)
            inner = grid[~((grid < first) | (grid > last))]  # all of it where one is NaN
            return np.concatenate([np.broadcast_to(inner, (len(ends), inner.size)), ends], 1)

        per_set = 6 * (self.k + 1) * (grid.size + self.k + 1)  # the floods' arrays, the lobby's
        return _peaks_by_chunks(self, shapes, candidates, np.nanargmax, per_set)

    # -- growing the form -----------------------------------------------------------------------

    def grow(self, values, t, residual, interval_s):
        proposals = []
        if self.k < self.max_k:
            required = self.target_k is not None
            crest = _crests(t, residual)[:1]
            if not crest and required:  # nothing missed: put the flood where the data peak
                crest = [float(t[int(np.argmax(residual))])]
            if crest:
                proposals.append(
                    (*self._with_flood(values, t, residual, interval_s, crest[0]), required)
                )
            # A fixed number of floods also starts them all afresh, at the data's crests, and
            # keeps the better: growing a flood that settled across two crests stays there.
            # (Choosing the number, the fresh start found likelier curves whose crest was
            # further from the data's: 0.75 of the Higgs 1-minute peak, against 0.98.)
            fresh = self._afresh(values, t, residual, interval_s) if required else None
            if fresh is not None:
                proposals.append((*fresh, required))
        if not self.drift and self.target_drift is not False:
            drifting = self._grown(self.k, True), {**values, _DRIFT.name: 0.0}
            proposals.append((*drifting, self.target_drift is True))
        return proposals

    def _with_flood(self, values, t, residual, interval_s, crest):
        """One more flood at the `crest` the fitted curve misses, the others as fitted."""
        tau, rise, decay, mass = _flood_at(t, residual, crest, interval_s)
        audience, pi = values["audience"], values["lead_share"]
        total = audience + mass
        lead = pi * audience / total
        j = self.k + 1
        new = {
            **values,
            "audience": total,
            "lead_share": lead,
            f"share_{j}": float(np.clip(mass / ((1.0 - lead) * total), 0.01, 0.9)),
            f"surge_time_{j}_s": tau,
            f"rise_{j}_s": rise,
            f"decay_{j}_s": decay,
        }
        return self._grown(j, self.drift), new

    def _afresh(self, values, t, residual, interval_s):
        """One more flood than now, every flood started afresh at a crest of the data (the
        fitted floods may have settled across two crests: growing them would stay there)."""
        excess = residual + values["audience"] * self.density(t, values)
        crests = sorted(_crests(t, excess)[: self.k + 1])
        if len(crests) < self.k + 1:
            return None
        floods = [_flood_at(t, excess, c, interval_s) for c in crests]
        masses = np.array([f[3] for f in floods])
        lobby = values["lead_share"] * values["audience"]
        total = lobby + masses.sum()
        new = {**values, "audience": total, "lead_share": lobby / total}
        up_to = np.cumsum(masses)
        for j, (tau, rise, decay, _) in enumerate(floods, start=1):
            tag = "" if j == 1 else f"_{j}"
            new.update({f"surge_time{tag}_s": tau, f"rise{tag}_s": rise, f"decay{tag}_s": decay})
            if j > 1:
                new[f"share_{j}"] = float(np.clip(masses[j - 1] / up_to[j - 1], 0.01, 0.9))
        return self._grown(self.k + 1, self.drift), new


def _stick_derivatives(shares, j: int) -> list[float]:
    """Derivatives of the floods' weights (stick breaking, see :meth:`Floods._floods`) by
    ``share_j``; `shares` are ``share_2 .. share_k``."""
    k = len(shares) + 1
    s = [None, None, *shares]  # s[m] is share_m

    def rest(after: int, skip: int) -> float:  # prod of (1 - share_i), i > after, i != skip
        return math.prod(1.0 - s[i] for i in range(after + 1, k + 1) if i != skip)

    out = []
    for m in range(1, k + 1):
        if m > j:
            out.append(0.0)
        elif m == j:
            out.append(rest(j, 0))
        else:
            out.append(-(1.0 if m == 1 else s[m]) * rest(m, j))
    return out


def _widths(edges):
    """The intervals' widths: one number where they are all equal (a regular grid), so
    that what depends on the width alone is computed once."""
    edges = np.asarray(edges, dtype=float)
    width = np.diff(edges)
    return float(width[0]) if len(width) and np.all(width == width[0]) else width


def _d_exprel(x):
    """Derivative of ``exprel(x) = (e^x - 1) / x``: ``(e^x (x - 1) + 1) / x**2``, by its
    series near 0, where the closed form cancels."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-2
    with np.errstate(all="ignore"):
        closed = (np.exp(x) * (x - 1) + 1) / x**2
    series = 0.5 + x * (1 / 3 + x * (1 / 8 + x * (1 / 30 + x / 144)))
    return np.where(small, series, closed)


def _flood_at(t, rate, crest, interval_s):
    """(onset, rise, decay, mass) of a flood started at the `crest` of `rate` (per s): the
    time scales from the crest's half-height points, the mass from its height."""
    i = int(np.argmin(np.abs(t - crest)))
    height = float(rate[i])
    below = rate < height / 2
    left = np.flatnonzero(below[:i])
    right = np.flatnonzero(below[i:])
    half_rise = t[i] - (t[left[-1]] if len(left) else t[0])
    half_decay = (t[i + right[0]] if len(right) else t[-1]) - t[i]
    decay = max(half_decay / math.log(2), 2 * interval_s)
    rise = float(np.clip(half_rise / 2, interval_s / 2, decay / 2))
    mode = _flood_mode(rise, decay)
    mass = height / float(_flood_density(np.array([mode]), rise, decay)[0])
    return t[i] - mode, rise, decay, mass


def _crests(t, rate) -> list[float]:
    """Times of the positive crests of `rate`, the most prominent first."""
    top = float(np.max(rate)) if len(rate) else 0.0
    if not top > 0:
        return []
    peaks, props = signal.find_peaks(rate, prominence=0.05 * top)
    order = np.argsort(props["prominences"])[::-1]
    return [float(t[peaks[i]]) for i in order if rate[peaks[i]] > 0]
