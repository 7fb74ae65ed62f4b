"""The bootstrap's peaks: a form's vectorised ``peaks`` against one ``peak`` a draw.

``JoinCurveFit.peak`` takes its intervals from the coarse peak (``precise=False``) of
2,000 parameter draws; a form that declares ``peaks`` finds them all in one evaluation.
The reference is the loop it replaces, called directly: ``form.peak`` (or
``JoinCurveFit._peak``) once a draw. They agree to round-off (found: bit for bit).
"""

import warnings

import numpy as np
import pytest

import capplan
from capplan.models import JoinCurveFit, LobbyFlood, Peak, PlateauSurge, fit_join_curve, join_forms
from capplan.models.floods import Floods
from capplan.models.join_curve import _BOOTSTRAP_DRAWS, _BOOTSTRAP_SEED
from capplan.models.join_forms import JoinCurveForm
from capplan.warnings import CapplanWarning

T0, T1 = -1800.0, 3600.0  # the window searched (s)
N = 300  # parameter sets a form; the first quarter peak at the lobby's end

FORMS = [
    LobbyFlood(),
    PlateauSurge(),
    Floods(k=1),
    Floods(k=2),
    Floods(k=2, drift=True),
    Floods(k=3, drift=True),
]


def parameter_sets(form, seed=0):
    """`N` parameter sets of `form` over wide ranges, as arrays by name. In the first quarter
    the lobby holds most of the audience and every flood is slow: the curve peaks at the
    lobby's end. A tenth have a flood's rise equal to its decay (the flood's limit form)."""
    rng = np.random.default_rng(seed)
    sets = {}
    for p in form.params:
        if p.name == "lead_share" or p.name.startswith("share_"):
            sets[p.name] = rng.uniform(0.02, 0.98, N)
        elif p.name.startswith("surge_time"):
            sets[p.name] = rng.uniform(-600.0, 2_400.0, N)
        elif p.name == "onset_s":
            sets[p.name] = rng.uniform(-1_500.0, -300.0, N)
        elif p.name == "background_drift_per_h":
            sets[p.name] = rng.uniform(-2.0, 2.0, N)
        else:  # a time scale (s)
            sets[p.name] = np.exp(rng.uniform(np.log(0.5), np.log(3_000.0), N))
    lobby = slice(0, N // 4)
    sets["lead_share"][lobby] = 0.95
    for name in sets:
        if name.startswith("rise"):
            sets[name][lobby] = 2.0
        elif name.startswith("decay"):
            sets[name][lobby] = 1_000.0
        elif name in ("ramp_s", "onset_width_s"):
            sets[name][lobby] = 30.0
    twins = slice(N // 4, N // 4 + N // 10)
    sets["decay_s"][twins] = sets["rise_s"][twins]
    return sets


def one_peak_a_draw(form, sets):
    found = [
        form.peak({name: v[i] for name, v in sets.items()}, T0, T1, precise=False) for i in range(N)
    ]
    return np.array(found).T


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_peaks_equal_one_peak_a_draw(form):
    sets = parameter_sets(form)
    times, values = form.peaks(sets, T0, T1)
    loop_times, loop_values = one_peak_a_draw(form, sets)
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    np.testing.assert_allclose(times, loop_times, rtol=0, atol=1e-9 * (T1 - T0))
    np.testing.assert_allclose(values, loop_values, rtol=1e-12)
    # Both kinds of peak are covered: at the lobby's end (a candidate point of its own),
    # and at a flood.
    at_lobby_end = times == sets["surge_time_s"]
    assert at_lobby_end[: N // 4].all()
    assert (~at_lobby_end[N // 4 :]).mean() > 0.25


@pytest.mark.parametrize("form", [LobbyFlood(), Floods(k=3)], ids=lambda form: form.name)
def test_peaks_do_not_depend_on_the_chunks(form, monkeypatch):
    sets = parameter_sets(form, seed=1)
    whole = form.peaks(sets, T0, T1)
    monkeypatch.setattr(join_forms, "_CHUNK_BYTES", 1)  # one set a chunk
    np.testing.assert_array_equal(form.peaks(sets, T0, T1), whole)


class OnePeakADraw(JoinCurveForm):
    """A lobby and a flood, as :class:`LobbyFlood`, but without ``peaks``: the bootstrap
    falls back to one ``peak`` a draw."""

    def __init__(self):
        self.of = LobbyFlood()
        self.name, self.params = self.of.name, self.of.params

    def cdf(self, t, p):
        return self.of.cdf(t, p)

    def density(self, t, p):
        return self.of.density(t, p)

    def peak(self, p, t0, t1, precise=True):
        return self.of.peak(p, t0, t1, precise)


def fit(form):
    history = capplan.sample_history()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapplanWarning)
        return fit_join_curve(history.event(history.event_ids[0])["joins"], form=form)


@pytest.fixture(scope="module")
def floods_fit():
    return fit(Floods())  # the default: as many floods, and a drift, as the data want


@pytest.fixture(scope="module")
def lobby_fit():
    return fit(LobbyFlood())


@pytest.mark.parametrize("name", ["floods_fit", "lobby_fit"])
def test_fit_peak_is_the_loop_over_the_draws(name, request):
    fitted = request.getfixturevalue(name)
    draws = fitted.estimate.draws(_BOOTSTRAP_DRAWS, _BOOTSTRAP_SEED)
    loop = np.array([fitted._peak(v, precise=False) for v in draws])
    np.testing.assert_allclose(fitted._draw_peaks(draws), loop, rtol=1e-12)
    level = 0.8
    q = [(1 - level) / 2, (1 + level) / 2]
    (t_lo, t_hi), (r_lo, r_hi) = np.quantile(loop[:, 0], q), np.quantile(loop[:, 1], q)
    time, rate = fitted._peak(fitted.estimate.values)
    expected = Peak(rate, time, r_lo, r_hi, t_lo, t_hi, level)
    got = fitted.peak(level)
    for field in ("rate", "time", "lower", "upper", "time_lower", "time_upper"):
        assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=1e-12), field
    assert (got.level, got.method) == (expected.level, expected.method)


def test_a_form_without_peaks_takes_one_peak_a_draw(lobby_fit):
    form = OnePeakADraw()
    assert not hasattr(form, "peaks")
    same = JoinCurveFit(
        lobby_fit.data, lobby_fit.interval_s, form, lobby_fit.estimate, lobby_fit.level
    )
    got, expected = same.peak(), lobby_fit.peak()
    for field in ("rate", "time", "lower", "upper", "time_lower", "time_upper"):
        assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=1e-12), field
