"""The shapes of a join curve: declarations of the density ``g`` of an event's arrivals.

See :mod:`capplan.models.join_curve` for the model ``lambda(t) = b(t) + A g(t)``
and its likelihood. A shape declares its parameters, their ranges from the
data's window, its distribution function and density, and starting values;
:class:`LobbyFlood` and :class:`PlateauSurge` are one surge each,
:class:`~capplan.models.floods.Floods` a lobby and several floods.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from capplan.models._fitting import Param

__all__ = ["JoinCurveForm", "LobbyFlood", "PlateauSurge"]

_CHUNK_BYTES = 16 * 2**20  # memory of one chunk of a vectorised peak search (``peaks``)


def flood_params(j: int = 1) -> tuple[Param, ...]:
    """Onset, rise and decay of flood `j` (names ``surge_time_s``, ... for the first,
    ``surge_time_2_s``, ... for the others)."""
    tag = "" if j == 1 else f"_{j}"
    which = "the flood" if j == 1 else f"flood {j}"
    return (
        Param(f"surge_time{tag}_s", "s", -math.inf, math.inf, f"onset of {which}, s since start"),
        Param(f"rise{tag}_s", "s", description=f"rise time scale of {which}"),
        Param(f"decay{tag}_s", "s", description=f"decay time scale of {which}"),
    )


def flood_bounds(t0: float, t1: float, j: int = 1) -> dict:
    """Ranges of flood `j`'s parameters in a window from `t0` to `t1` (s): an onset outside
    the data, or a time scale longer than the window, is not identified."""
    onset, rise, decay = (p.name for p in flood_params(j))
    return {onset: (t0, t1), rise: (0.0, t1 - t0), decay: (0.0, t1 - t0)}


class JoinCurveForm:
    """Declaration of a join curve's shape: the density ``g`` of the event's arrivals.

    A new shape is a subclass that declares ``name``, ``params`` (a tuple of
    :class:`~capplan.models._fitting.Param`: name, unit, range), ``bounds``
    (ranges that depend on the data's window), and the core functions
    ``cdf``, ``density`` and ``start``. Background, audience, likelihood,
    optimisation, covariance and intervals come from the base. Override
    ``peak`` with a faster search where the shape allows one (the default
    scans a fine grid), and ``canonical`` for a shape with twin parameter
    sets. A shape whose ``density`` broadcasts over arrays of parameters may
    declare ``peaks(shapes, t0, t1)``: the coarse ``peak`` of many parameter
    sets at once (the bootstrap's draws; without it, one ``peak`` a draw).
    """

    name: str = "shape"
    params: tuple[Param, ...] = ()

    def cdf(self, t: np.ndarray, p: dict) -> np.ndarray:
        """Share of the audience arrived by time `t` (s)."""
        raise NotImplementedError

    def density(self, t: np.ndarray, p: dict) -> np.ndarray:
        """Arrival density at time `t` (per second); integrates to 1."""
        raise NotImplementedError

    def start(self, t: np.ndarray, excess: np.ndarray, interval_s: float, peak_s: float) -> dict:
        """Starting values of the shape for a surge peaking near `peak_s`.

        `excess` is a smoothed rate above the background (per s) at the
        interval midpoints `t` (s). The fit tries each candidate peak of the
        data (the largest local maxima) and keeps the best likelihood.
        """
        raise NotImplementedError

    def bounds(self, t0: float, t1: float, interval_s: float) -> dict:
        """Ranges ``name -> (lower, upper)`` for a window of data from `t0` to `t1` (s)."""
        return {}

    def canonical(self, p: dict) -> dict:
        """The canonical one of parameter sets with the same curve."""
        return p

    def background_counts(self, edges: np.ndarray, b: float, p: dict) -> np.ndarray:
        """Expected background count in each interval between `edges` (s); `b` its rate at 0.

        A constant rate by default; a form may let it drift (its parameters in `p`).
        """
        return b * np.diff(edges)

    def background_rate(self, t: np.ndarray, b: float, p: dict) -> np.ndarray:
        """Background rate (per s) at times `t` (s)."""
        return np.full(np.shape(t), float(b))

    def cdf_gradient(self, t: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
        """The distribution function at `t` (s) and its derivatives by the shape's parameters.

        Returns ``(cdf, gradient)``, ``gradient[i, j]`` the derivative of ``cdf(t[i])`` by
        ``params[j]`` (natural units). A shape need not declare it: the fit then
        differentiates its likelihood numerically (slower). A shape that declares it and
        lets the background drift declares :meth:`background_gradient` too.
        """
        raise NotImplementedError

    @property
    def declares_gradient(self) -> bool:
        """Whether the shape declares :meth:`cdf_gradient` (the fit's analytic gradients)."""
        return type(self).cdf_gradient is not JoinCurveForm.cdf_gradient

    def background_gradient(self, edges: np.ndarray, b: float, p: dict):
        """Expected background counts between `edges` (s), their derivative by `b`, and
        their derivatives by the shape's parameters they depend on (a dict by name)."""
        width = np.diff(edges)
        return b * width, width, {}

    def first(self) -> JoinCurveForm:
        """The form a fit starts from (this one; a form that grows starts smaller)."""
        return self

    def grow(self, values: dict, t: np.ndarray, residual: np.ndarray, interval_s: float):
        """Larger forms to try after this one was fitted, with their starting values.

        `values` are the fitted natural values by name (background, audience, shape,
        alpha), `residual` the smoothed data rate minus the fitted rate (per s) at the
        interval midpoints `t` (s). Returns ``[(form, values, required), ...]``, none by
        default: the fit takes the required one of lowest quasi-AIC where there are
        required ones, else the optional one of lowest quasi-AIC where it lowers that of
        the form fitted.
        """
        return []

    def peak(self, p: dict, t0: float, t1: float, precise: bool = True) -> tuple[float, float]:
        """Time (s) and value (per s) of the density's maximum between `t0` and `t1`."""
        grid = np.linspace(t0, t1, 20_001 if precise else 2_001)
        values = self.density(grid, p)
        i = int(np.argmax(values))
        return float(grid[i]), float(values[i])


class _LeadFlood(JoinCurveForm):
    """A lead-in (lobby, plateau) up to the surge time, then a flood; the common part.

    A subclass declares the lead-in by its unnormalised density ``lead``
    (increasing up to the surge) and its integral ``lead_mass``, both used
    at ``t <= tau`` only. After ``tau`` the lead-in hands over to the flood:
    its rate decays from where it was with the flood's rise time ``r``, so
    the rate is continuous (a lobby that stops dead would put a kink in
    the likelihood wherever ``tau`` crosses an interval edge).
    """

    def lead(self, t, p):
        raise NotImplementedError

    def lead_mass(self, t, p):
        raise NotImplementedError

    def _lead_parts(self, p):
        tau, rise = p["surge_time_s"], np.minimum(p["rise_s"], p["decay_s"])
        height = self.lead(np.asarray(tau, dtype=float), p)
        norm = self.lead_mass(np.asarray(tau, dtype=float), p) + height * rise
        return tau, rise, height, norm

    def lead_derivatives(self, x, p) -> tuple[np.ndarray, np.ndarray, dict, dict]:
        """``lead``, ``lead_mass`` at `x` and their partial derivatives (dicts by name: ``"x"``
        for the derivative by `x`, and each parameter they depend on explicitly), for
        :meth:`cdf_gradient` (optional: a subclass without them is fitted with numerical
        derivatives)."""
        raise NotImplementedError

    def lead_cdf(self, t, p):
        """Share of the lead-in arrived by `t` (s): its distribution function alone."""
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):  # extreme parameters (bootstrap draws) give inf/NaN
            tau, rise, height, norm = self._lead_parts(p)
            u = np.maximum(t - tau, 0.0)
            mass = self.lead_mass(np.minimum(t, tau), p) + height * rise * -np.expm1(-u / rise)
            return mass / norm

    def lead_cdf_gradient(self, t, p) -> tuple[np.ndarray, dict]:
        """:meth:`lead_cdf` and its derivatives by the lead-in's parameters, the surge time
        and the shorter of the flood's time scales (a dict by name)."""
        t = np.asarray(t, dtype=float)
        tau, r, d = p["surge_time_s"], p["rise_s"], p["decay_s"]
        rho, rho_name = (r, "rise_s") if r <= d else (d, "decay_s")
        with np.errstate(all="ignore"):
            _, mass_x, _, d_mass_x = self.lead_derivatives(np.minimum(t, tau), p)
            at = self.lead_derivatives(np.array([tau]), p)
            height, mass_tau = float(at[0][0]), float(at[1][0])
            d_height = {n: float(v[0]) for n, v in at[2].items()}
            d_mass_tau = {n: float(v[0]) for n, v in at[3].items()}
            u = np.maximum(t - tau, 0.0)
            decayed = np.exp(-u / rho)
            q = -np.expm1(-u / rho)  # share of the hand-over's tail arrived
            mass = mass_x + height * rho * q
            norm = mass_tau + height * rho
            cdf = mass / norm
            grads = {}
            for name in d_mass_x:
                if name in ("x", "surge_time_s"):
                    continue
                d_mass = d_mass_x[name] + d_height.get(name, 0.0) * rho * q
                d_norm = d_mass_tau[name] + d_height.get(name, 0.0) * rho
                grads[name] = (d_mass - cdf * d_norm) / norm
            # tau moves the lead-in's end (where the mass reaches lead(tau)) and the tail.
            d_height_tau = d_height["x"] + d_height.get("surge_time_s", 0.0)
            d_mass = d_mass_x.get("surge_time_s", 0.0) + height * q + d_height_tau * rho * q
            d_norm = height + d_mass_tau.get("surge_time_s", 0.0) + d_height_tau * rho
            grads["surge_time_s"] = (d_mass - cdf * d_norm) / norm
            grads[rho_name] = (height * (q - u / rho * decayed) - cdf * height) / norm
        return cdf, grads

    def cdf(self, t, p):
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):  # extreme parameters (bootstrap draws) give inf/NaN
            flood = 1 - _flood_survival(t - p["surge_time_s"], p["rise_s"], p["decay_s"])
            return p["lead_share"] * self.lead_cdf(t, p) + (1 - p["lead_share"]) * flood

    @property
    def declares_gradient(self) -> bool:
        return type(self).lead_derivatives is not _LeadFlood.lead_derivatives

    def cdf_gradient(self, t, p):
        if not self.declares_gradient:
            raise NotImplementedError(f"{type(self).__name__} declares no lead_derivatives")
        t = np.asarray(t, dtype=float)
        pi = p["lead_share"]
        lead, grads = self.lead_cdf_gradient(t, p)
        with np.errstate(all="ignore"):
            survival, density, d_rise, d_decay = _flood_terms(
                t - p["surge_time_s"], p["rise_s"], p["decay_s"]
            )
        out = {name: pi * g for name, g in grads.items()}
        out["lead_share"] = lead - (1 - survival)
        zero = np.zeros_like(t)
        out["surge_time_s"] = out.get("surge_time_s", zero) - (1 - pi) * density
        out["rise_s"] = out.get("rise_s", zero) - (1 - pi) * d_rise
        out["decay_s"] = out.get("decay_s", zero) - (1 - pi) * d_decay
        cdf = pi * lead + (1 - pi) * (1 - survival)
        return cdf, np.column_stack([out.get(q.name, zero) for q in self.params])

    def density(self, t, p):
        # The parameters may be arrays that broadcast against `t` (see ``peaks``).
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):
            tau, rise, height, norm = self._lead_parts(p)
            u = t - tau
            lead = np.where(
                u < 0, self.lead(np.minimum(t, tau), p), height * np.exp(-np.abs(u) / rise)
            )
            flood = _flood_density(u, p["rise_s"], p["decay_s"])
            return p["lead_share"] * lead / norm + (1 - p["lead_share"]) * flood

    def canonical(self, p):
        if p["rise_s"] > p["decay_s"]:
            p = {**p, "rise_s": p["decay_s"], "decay_s": p["rise_s"]}
        return p

    def peak(self, p, t0=None, t1=None, precise=True):
        # The lead-in rises up to tau; after the flood's mode everything decays: the maximum
        # lies in [tau, tau + mode].
        tau = p["surge_time_s"]
        mode = _flood_mode(p["rise_s"], p["decay_s"])
        if precise:
            found = optimize.minimize_scalar(
                lambda u: -float(self.density(np.array([tau + u]), p)[0]),
                bounds=(0.0, mode),
                method="bounded",
                options={"xatol": 1e-9 * max(mode, 1.0)},
            )
            candidates = np.array([0.0, found.x, mode])
        else:
            candidates = np.linspace(0.0, mode, 257)
        values = self.density(tau + candidates, p)
        i = int(np.argmax(values))
        return float(tau + candidates[i]), float(values[i])

    def peaks(self, shapes, t0=None, t1=None):
        """:meth:`peak` (``precise=False``) of many parameter sets at once.

        `shapes` maps each parameter's name to an array of values, one a set; returns the
        times (s) and values (per s) of the maxima, arrays. The lead-in's ``lead`` and
        ``lead_mass`` must broadcast over arrays of parameters.
        """

        def candidates(p):
            mode = _flood_mode(p["rise_s"], p["decay_s"])[:, 0]
            return p["surge_time_s"] + np.linspace(0.0, mode, 257, axis=1)

        return _peaks_by_chunks(self, shapes, candidates, np.argmax, 16 * 257)


class LobbyFlood(_LeadFlood):
    """Lobby ramp up to a surge time, then a flood that rises and decays.

    See the module's docstring. The default form: notification-driven joins
    to a live stream (a lobby before the start, a flood at it).
    """

    name = "lobby + flood"
    params = (
        Param("lead_share", "share", 0.0, 1.0, "share of the audience in the lobby"),
        Param("ramp_s", "s", description="time scale of the lobby's exponential ramp"),
        *flood_params(),
    )

    def bounds(self, t0, t1, interval_s):
        # Time scales longer than the window, or a surge outside it, are not identified.
        span = t1 - t0
        return {"ramp_s": (0.0, span), **flood_bounds(t0, t1)}

    def lead(self, t, p):
        return np.exp((t - p["surge_time_s"]) / p["ramp_s"])

    def lead_mass(self, t, p):
        return p["ramp_s"] * np.exp((t - p["surge_time_s"]) / p["ramp_s"])

    def lead_derivatives(self, x, p):
        ramp = p["ramp_s"]
        z = (np.asarray(x, dtype=float) - p["surge_time_s"]) / ramp
        e = np.exp(z)
        d_lead = {"x": e / ramp, "surge_time_s": -e / ramp, "ramp_s": -z * e / ramp}
        d_mass = {"x": e, "surge_time_s": -e, "ramp_s": e * (1 - z)}
        return e, ramp * e, d_lead, d_mass

    def start(self, t, excess, interval_s, peak_s):
        span = float(t[-1] - t[0] + interval_s)
        i_peak = int(np.argmin(np.abs(t - peak_s)))
        t_peak, top = float(t[i_peak]), float(excess[i_peak])
        after = np.flatnonzero((t > t_peak) & (excess < top / 2))
        decay = (t[after[0]] - t_peak) / math.log(2) if len(after) else span / 4
        decay = max(decay, interval_s)
        before = np.flatnonzero((t < t_peak) & (excess < top / 2))
        rise_span = t_peak - t[before[-1]] if len(before) else interval_s
        rise = float(np.clip(rise_span / 3, interval_s / 4, decay / 3))
        tau = t_peak - _flood_mode(rise, decay)
        weight = np.where(t < tau, excess, 0.0) * interval_s
        total = max(float(np.sum(excess) * interval_s), 1e-12)
        share = float(np.clip(np.sum(weight) / total, 0.05, 0.8))
        ramp = float(np.sum(weight * (tau - t)) / np.sum(weight)) if np.sum(weight) > 0 else span
        ramp = float(np.clip(ramp, interval_s, span / 2))
        return {
            "lead_share": share,
            "ramp_s": ramp,
            "surge_time_s": tau,
            "rise_s": rise,
            "decay_s": decay,
        }


class PlateauSurge(_LeadFlood):
    """A plateau from an onset up to a surge time, then a flood that rises and decays.

    For traffic watched over a long period that ends in a surge, such as a
    match site's requests: the audience builds up around kick-off and holds
    a plateau through the match; at the final whistle comes a flood.

    Before ``tau`` the lead-in's rate is proportional to
    ``expit((t - t_on) / w)``: ``t_on`` (``onset_s``) is when the plateau
    reaches half its height, ``w`` (``onset_width_s``) how sharply it sets
    in. Where the lead-in is a pure exponential ramp that never levels off
    (the sample's notification-driven lobby) the onset is not identified:
    use :class:`LobbyFlood` there.
    """

    name = "plateau + surge"
    params = (
        Param("lead_share", "share", 0.0, 1.0, "share of the audience in the plateau"),
        Param("onset_s", "s", -math.inf, math.inf, "when the plateau reaches half its height"),
        Param("onset_width_s", "s", description="logistic time scale of the plateau's onset"),
        *flood_params(),
    )

    def bounds(self, t0, t1, interval_s):
        # The background is measured before the onset: leave it a tenth of the window.
        span = t1 - t0
        return {
            "onset_s": (t0 + span / 10, t1),
            "onset_width_s": (0.0, span),
            **flood_bounds(t0, t1),
        }

    def lead(self, t, p):
        return special.expit((t - p["onset_s"]) / p["onset_width_s"])

    def lead_mass(self, t, p):
        w = p["onset_width_s"]
        return w * np.logaddexp(0.0, (t - p["onset_s"]) / w)

    def lead_derivatives(self, x, p):
        w = p["onset_width_s"]
        z = (np.asarray(x, dtype=float) - p["onset_s"]) / w
        s = special.expit(z)
        slope = s * (1 - s) / w
        softplus = np.logaddexp(0.0, z)
        d_lead = {"x": slope, "onset_s": -slope, "onset_width_s": -z * slope}
        d_mass = {"x": s, "onset_s": -s, "onset_width_s": softplus - z * s}
        return s, w * softplus, d_lead, d_mass

    def start(self, t, excess, interval_s, peak_s):
        shape = LobbyFlood().start(t, excess, interval_s, peak_s)
        tau = shape["surge_time_s"]
        before = excess[t < tau]
        half = (np.median(before) if len(before) else np.max(excess)) / 2
        onset = float(t[np.flatnonzero(excess >= half)[0]])
        onset = max(onset, t[0] + (t[-1] - t[0]) / 5)
        return {
            "lead_share": max(shape["lead_share"], 0.3),
            "onset_s": min(onset, tau - interval_s),
            "onset_width_s": 4 * interval_s,
            "surge_time_s": tau,
            "rise_s": shape["rise_s"],
            "decay_s": shape["decay_s"],
        }


def _flood_survival(u, rise, decay):
    """Share of the flood still to come ``u`` seconds after its onset (1 before it).

    Broadcasts: ``u`` of shape ``(k, n)`` with ``rise`` and ``decay`` of shape ``(k, 1)``
    gives ``k`` floods at once.
    """
    v = np.maximum(np.asarray(u, dtype=float), 0.0)
    r, d = np.asarray(rise, dtype=float), np.asarray(decay, dtype=float)
    near = np.abs(d - r) < 1e-7 * np.maximum(r, d)
    if not np.any(near):
        return (d * np.exp(-v / d) - r * np.exp(-v / r)) / (d - r)
    top = np.maximum(r, d)
    gap = np.where(near, 1.0, d - r)
    general = (d * np.exp(-v / d) - r * np.exp(-v / r)) / gap
    return np.where(near, (1 + v / top) * np.exp(-v / top), general)


def _flood_terms(u, rise, decay):
    """Survival and density of a flood ``u`` s after its onset, and the survival's
    derivatives by ``rise`` and ``decay`` (four arrays; the survival is symmetric in the
    two time scales). Broadcasts over floods as :func:`_flood_survival` does."""
    v = np.maximum(np.asarray(u, dtype=float), 0.0)
    r, d = np.asarray(rise, dtype=float), np.asarray(decay, dtype=float)
    near = np.abs(d - r) < 1e-7 * np.maximum(r, d)
    gap = np.where(near, 1.0, d - r) if np.any(near) else d - r
    e_d, e_r = np.exp(-v / d), np.exp(-v / r)
    survival = (d * e_d - r * e_r) / gap
    density = (e_d - e_r) / gap
    d_decay = ((1 + v / d) * e_d - survival) / gap
    d_rise = (survival - (1 + v / r) * e_r) / gap
    if np.any(near):  # equal time scales: the limits (each scale half the diagonal's slope)
        top = np.maximum(r, d)
        e = np.exp(-v / top)
        half = v**2 / (2 * top**3) * e
        survival = np.where(near, (1 + v / top) * e, survival)
        density = np.where(near, v / top**2 * e, density)
        d_rise = np.where(near, half, d_rise)
        d_decay = np.where(near, half, d_decay)
    return survival, density, d_rise, d_decay


def _flood_density(u, rise, decay):
    """Flood density ``u`` seconds after its onset (0 before it); broadcasts as
    :func:`_flood_survival` does."""
    u = np.asarray(u, dtype=float)
    v = np.maximum(u, 0.0)
    r, d = np.asarray(rise, dtype=float), np.asarray(decay, dtype=float)
    near = np.abs(d - r) < 1e-7 * np.maximum(r, d)
    if not np.any(near):
        out = (np.exp(-v / d) - np.exp(-v / r)) / (d - r)
    else:
        top = np.maximum(r, d)
        gap = np.where(near, 1.0, d - r)
        general = (np.exp(-v / d) - np.exp(-v / r)) / gap
        out = np.where(near, v / top**2 * np.exp(-v / top), general)
    return np.where(u > 0, out, 0.0)


def _flood_mode(rise, decay):
    """Time of the flood's maximum after its onset (s); broadcasts."""
    r, d = np.minimum(rise, decay), np.maximum(rise, decay)
    with np.errstate(all="ignore"):
        mode = r * d * np.log(d / r) / (d - r)
    return np.where(d - r < 1e-7 * d, d, mode)[()]


def _peaks_by_chunks(form, shapes, candidates, argmax, per_set):
    """Times (s) and values (per s) of `form`'s density at its maximum over candidate points,
    for each parameter set in `shapes` (name -> array, one value a set).

    `candidates(p)` gives the points, an array (sets, points), for parameters `p` shaped
    (sets, 1); `argmax` picks a row's maximum (``np.argmax`` or ``np.nanargmax``, as the
    form's :meth:`peak` does). The sets go in chunks of at most ``_CHUNK_BYTES``, the
    density holding some `per_set` numbers a set (its intermediate arrays included).
    """
    n = len(next(iter(shapes.values())))
    rows = max(1, _CHUNK_BYTES // (8 * per_set))
    times, values = np.empty(n), np.empty(n)
    for lo in range(0, n, rows):
        chunk = slice(lo, lo + rows)
        p = {name: np.asarray(v[chunk], dtype=float)[:, None] for name, v in shapes.items()}
        points = candidates(p)
        density = form.density(points, p)
        best = argmax(density, axis=1)[:, None]
        times[chunk] = np.take_along_axis(points, best, axis=1)[:, 0]
        values[chunk] = np.take_along_axis(density, best, axis=1)[:, 0]
    return times, values
