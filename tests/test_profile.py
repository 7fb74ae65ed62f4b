"""Profile intervals: the root search against a brute-force profile, its cost, an open side.

The reference crossing is found here without the module's search: the parameter is fixed
at each point of a grid of working values outward from the estimate, the other parameters
refitted by :func:`~capplan.models._fitting.fit_mean_counts` from the estimate (not from
a neighbour, and to convergence), and the crossing of the log-likelihood drop located by
scipy's brentq between the grid's last inside and first outside point. Only the drop (the
chi-square quantile times the parameter's quasi-likelihood scale) is the module's own.
"""

import numpy as np
import pytest
from scipy import optimize, special, stats
from test_join_curve import simulate

import capplan.models._profile as profile
from capplan.models import LobbyFlood, fit_join_curve
from capplan.models._fitting import Param, Space, fit_mean_counts

NAMES = (
    "background_per_s",
    "audience",
    "lead_share",
    "ramp_s",
    "surge_time_s",
    "rise_s",
    "decay_s",
)


@pytest.fixture(scope="module")
def calls():
    """The arguments `JoinCurveFit.profile_interval` hands the module, per parameter."""
    fit = fit_join_curve(simulate(0), form=LobbyFlood())
    seen = {}
    original = profile.profile_interval

    def record(*args, **kwargs):
        seen[args[2][args[4]].name] = (args, kwargs)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(profile, "profile_interval", record)
        for name in NAMES:
            fit.profile_interval(name)
    return seen


def _loglike(y, mu):
    mu = np.maximum(mu, 1e-300)
    return float(np.sum(special.xlogy(y, mu) - mu))


def _brute_force(mean_counts, y, params, values, index, *, bounds, level, step, jacobian):
    """(lower, upper) working distances from the estimate to the profile's crossings
    (None for a side with no crossing within 40 times `step`)."""
    params, values = tuple(params), np.asarray(values, dtype=float)
    space = Space.of(params, bounds)
    theta = space.working(values)
    others = [i for i in range(len(params)) if i != index]
    best = _loglike(y, mean_counts(values))
    scale = profile._scale(
        y,
        np.maximum(mean_counts(values), 1e-300),
        mean_counts,
        space,
        theta,
        index,
        jacobian=jacobian,
    )
    drop = stats.chi2.ppf(level, 1) / 2 * scale

    def fall(w):
        full = theta.copy()
        full[index] = w
        fixed = space.natural(full)[index]
        estimate = fit_mean_counts(
            lambda v: mean_counts(np.insert(v, index, fixed)),
            y,
            (*(params[i] for i in others), Param("alpha", "1", 0.0, np.inf)),
            values[others],
            what="the reference profile",
            bounds=bounds,
            covariance=False,
            max_iter=100,
        )
        return best - estimate.loglike - drop

    ends = []
    for sign in (-1.0, 1.0):
        grid = theta[index] + sign * step * np.arange(0.0, 40.01, 0.25)
        falls = [-drop]
        for w in grid[1:]:
            falls.append(fall(w))
            if falls[-1] > 0:
                break
        if falls[-1] <= 0:
            ends.append(None)
            continue
        k = len(falls) - 1
        root = optimize.brentq(fall, grid[k - 1], grid[k], xtol=1e-6 * step)
        ends.append(abs(root - theta[index]))
    return tuple(ends)


@pytest.mark.parametrize("name", NAMES)
def test_each_bound_is_inside_and_within_the_precision_of_the_crossing(calls, name):
    # The search's promise: the bound is a point found inside, and the bracket that ended
    # the search was narrower than _PRECISION (3%) of its outside point's distance, so the
    # bound lies between 97% of the crossing's distance and the crossing itself.
    args, kwargs = calls[name]
    _, _, params, values, index = args
    lower, upper, lower_open, upper_open = profile.profile_interval(*args, **kwargs)
    assert not (lower_open or upper_open)
    space = Space.of(params, kwargs["bounds"])
    theta = space.working(values)
    got = []
    for bound in (lower, upper):
        full = np.array(values, dtype=float)
        full[index] = bound
        got.append(abs(space.working(full)[index] - theta[index]))
    for found, truth in zip(got, _brute_force(*args, **kwargs), strict=True):
        assert truth is not None, name
        assert (1 - profile._PRECISION) * truth * (1 - 1e-3) <= found <= truth * (1 + 1e-3), (
            name,
            found,
            truth,
        )


def test_refits_per_interval(calls, monkeypatch):
    # Refits on this fit (7 parameters): 100 by doubling then bisection (14-16 each, the
    # search before the signed-root one), 45 now (6-7 each: the standard error's step, one
    # aimed just past the predicted crossing, one just short of it, a side).
    count = [0]
    original = profile.fit_mean_counts

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(profile, "fit_mean_counts", counted)
    for name in NAMES:
        args, kwargs = calls[name]
        profile.profile_interval(*args, **kwargs)
    assert count[0] <= 8 * len(NAMES), count[0]


def test_a_side_the_data_do_not_close_is_open():
    # Counts on a line whose slope (estimated 2.0, true 3) is too small to tell from none:
    # as the slope goes to 0 (log scale) its profile rises to the flat fit's, never falling
    # by the drop, so the lower side runs to the farthest value tried, e**-8 times the
    # estimate, and says so; the upper side closes, within the precision of its crossing.
    x = np.linspace(0.0, 1.0, 200)
    y = np.random.default_rng(0).poisson(100.0 + 3.0 * x).astype(float)
    params = (Param("level", "1"), Param("slope", "1"))

    def mean_counts(v):
        return v[0] + v[1] * x

    values = fit_mean_counts(
        mean_counts,
        y,
        (*params, Param("alpha", "1", 0.0, np.inf)),
        [100.0, 3.0],
        what="the line",
        covariance=False,
    ).values
    assert 1.5 < values[1] < 2.5
    options = {"bounds": {}, "level": 0.95, "step": 0.25}
    lower, upper, lower_open, upper_open = profile.profile_interval(
        mean_counts, y, params, values, 1, **options
    )
    assert lower_open and not upper_open
    assert lower == pytest.approx(values[1] * np.exp(-profile._REACH), rel=1e-9)
    lowest, truth = _brute_force(mean_counts, y, params, values, 1, jacobian=None, **options)
    assert lowest is None  # the reference does not find a crossing below either
    found = np.log(upper / values[1])
    assert (1 - profile._PRECISION) * truth * (1 - 1e-3) <= found <= truth * (1 + 1e-3)
