"""Event plans: inputs, methods (PSA vs MOL/ISA), validation by simulation, save/load."""

import warnings

import numpy as np
import pandas as pd
import pytest

from capplan.planning import (
    SLO,
    ClientPolicy,
    JoinForecast,
    JoinService,
    Margins,
    QueuePolicy,
    load_plan,
    plan_event,
    whatif,
)
from capplan.simulation import NoRetry

SESSIONS = ("exponential", {"mean_s": 600.0})


def small_plan(**kw):
    rates = pd.Series(200.0 + 100.0 * (np.arange(1200) >= 600), index=np.arange(-600, 600))
    fc = JoinForecast.from_rates(rates, factor=1.2, alpha_per_second=0.01)
    args = dict(service=JoinService(0.05, scv=2.0), streams_per_server=5000, window=(-600, 600))
    args.update(kw)
    return plan_event(fc, SESSIONS, **args)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(wait_s=2.0, fraction=1.0), "fraction must be below 1"),
        (dict(max_wait_prob=0.0), "no finite capacity"),
        (dict(wait_s=2.0, fraction=0.99, max_refused=0.0), "no finite queue refuses"),
        (dict(), "one waiting target"),
    ],
)
def test_impossible_slo_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SLO(**kwargs)


def test_negative_or_too_short_timeout():
    with pytest.raises(ValueError, match="timeout_s must be a positive"):
        ClientPolicy(timeout_s=-1.0)
    with pytest.raises(ValueError, match="no finite capacity"):
        small_plan(client=ClientPolicy(timeout_s=0.04))


def test_forecast_must_cover_window():
    with pytest.raises(ValueError, match=r"covers -600\.\.600 s"):
        small_plan(window=(-600, 1200))
    with pytest.raises(TypeError, match=r"JoinForecast\.from_rates"):
        plan_event(
            pd.Series([1.0, 2.0]), SESSIONS, service=JoinService(0.05), streams_per_server=10
        )


# -- the plan and its margins ------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: whatif.delayed_start(p, "40"), "minutes must be a number"),
        (lambda p: whatif.delayed_start(p, float("inf")), "minutes must be finite"),
        (lambda p: whatif.delayed_start(p, 1e6), "at most the forecast's span"),
        (lambda p: whatif.delayed_start(p, 10, sharpness=0.5), "sharpness must be finite and >= 1"),
        (lambda p: whatif.attack(p, None), "rps must be a number"),
        (lambda p: whatif.attack(p, -5), "rps must be finite and >= 0"),
        (lambda p: whatif.lost_zone(p, [0.3]), "fraction must be a number"),
        (lambda p: whatif.lost_zone(p, 1.0), "fraction must be below 1"),
        (lambda p: whatif.retry_policy(p, "eager"), "retry must be a RetryPolicy"),
        (lambda p: p.validate(replications=float("inf")), "replications must be a whole number"),
        (lambda p: p.validate(replications=2.5), "replications must be a whole number"),
        (lambda p: p.validate(seed=float("nan")), "seed must be an int"),
        (lambda p: p.validate(seed="x"), "seed must be an int"),
    ],
)
def test_what_ifs_and_validation_refuse_bad_arguments_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call(small_plan())


def test_plan_margins_are_explicit():
    plan = small_plan(margins=Margins(attack_rps=50.0, spare_workers=3, zone_loss=0.25))
    m = plan.margins_table.set_index(["margin", "applies_to"])
    assert m.loc[("forecast quantile", "join path"), "factor"] == pytest.approx(1.2)
    assert m.loc[("attack headroom", "join path"), "count"] == 50.0
    assert m.loc[("failure headroom (N+k)", "join path"), "count"] == 3
    f = plan.frame
    assert np.all(f["workers"] >= np.ceil(f["workers_needed"] / 0.75) + 3 - 1e-9)
    assert np.all(f["burst_factor"] >= 1.0)
    assert "peak_workers" in plan.summary().index and "Margins" in str(plan)


# -- save and load -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_round_trip(tmp_path, fmt):
    plan = small_plan()
    path = plan.save(tmp_path / ("plan.json" if fmt == "json" else "plan"), format=fmt)
    back = load_plan(path)
    pd.testing.assert_frame_equal(back.frame, plan.frame, check_index_type=False)
    pd.testing.assert_frame_equal(back.margins_table, plan.margins_table)
    assert back.slo == plan.slo and back.client == plan.client and back.margins == plan.margins
    assert back.service == plan.service and back.queue == plan.queue
    np.testing.assert_allclose(back.forecast.upper, plan.forecast.upper)
    assert str(back.summary()) == str(plan.summary())


def test_validation_runs_in_threads_and_repeats_exactly_with_its_seed():
    # Runs share the cores in threads: each must keep its own random streams, whatever
    # order the threads finish in, and the replications must differ from one another.
    plan = small_plan()
    first = plan.validate(seed=11, replications=4).frame
    again = plan.validate(seed=11, replications=4).frame
    pd.testing.assert_frame_equal(first, again)
    other = plan.validate(seed=12, replications=4).frame
    assert not first["arrivals"].equals(other["arrivals"])


# -- PSA vs MOL / ISA on sinusoidal arrivals -----------------------------------------------------
# Feldman, Mandelbaum, Massey & Whitt (2008), Management Science 54(2), section 5: a sinusoidal
# rate with relative amplitude 0.2 and mean service comparable to the period (their period is
# 2 pi service times; here 6). lambda(t) = 40 (1 + 0.2 sin(2 pi t / 60)) /s, exponential work of
# 10 s (offered load 400 Erlangs), target delay probability 0.2, 2-s intervals (30 a period).

T, TAU, TARGET, IV, CYCLES = 60.0, 10.0, 0.2, 2, 4


def sinusoid_plan(method, **kw):
    t = np.arange(0, CYCLES * T)
    rates = pd.Series(40.0 * (1 + 0.2 * np.sin(2 * np.pi * (t + 0.5) / T)), index=t)
    return plan_event(
        JoinForecast.from_rates(rates, factor=1.0),
        SESSIONS,
        service=JoinService(TAU),
        streams_per_server=1000,
        slo=SLO(max_wait_prob=TARGET),
        client=ClientPolicy(timeout_s=None, retry=NoRetry()),
        queue=QueuePolicy("unlimited"),
        margins=Margins(
            burst_quantile=None, retry_failure_prob=0.0, spare_workers=0, spare_stream_servers=0
        ),
        window=(0, CYCLES * T),
        interval_s=IV,
        lobby_start_s=None,
        method=method,
        **kw,
    )


def phase_deviation(plan, replications=200):
    """Simulated delay probability minus the target, per 2-s interval of the period, from
    independent runs (seed 3, Poisson first tries), pooled over cycles 2-4: about 40 000
    arrivals per interval, so a standard error of about 0.002 (runs are independent; the
    cycles of one run are nearly so, the memory being 10 s)."""
    f = plan.validate(scenarios=["point"], seed=3, replications=replications, noise=False).frame
    f = f[f["start_s"] >= T]
    p = (
        f.assign(phase=f["start_s"] % T)
        .groupby("phase")
        .apply(lambda g: np.average(g["wait_prob"], weights=g["arrivals"]), include_groups=False)
    )
    return p - TARGET


@pytest.fixture(scope="module")
def sinusoid_deviations():
    psa = phase_deviation(sinusoid_plan("psa"))
    mol = phase_deviation(sinusoid_plan("mol"))
    isa_plan = sinusoid_plan("isa", isa_replications=300, isa_max_iter=8, seed=1)
    return psa, mol, phase_deviation(isa_plan), isa_plan


@pytest.mark.slow  # ISA, 300 replications of 8 iterations: about 13 s
def test_psa_misses_while_isa_stays_within_005_of_delay_target(sinusoid_deviations):
    psa, mol, isa, plan = sinusoid_deviations
    # PSA staffs for lambda(t) E[B], ahead of the load: no wait on the rise, too much after
    # the peak (measured: -0.20 .. +0.22).
    assert psa.abs().max() > 0.15 and psa.max() > 0.1 and psa.min() < -0.1
    # ISA meets the target within +-0.05 in every interval of the period (measured: 0.045).
    assert isa.abs().max() <= 0.05
    assert len(plan.isa_history) >= 2 and plan.model.startswith("simulation (ISA")
    # MOL is closer than PSA but does not stay within 0.05 in this simulator: a removed
    # busy worker finishes its request, so capacity falls later than the staffing and the
    # delay probability drops below the target after the peak (measured: -0.17 .. +0.01).
    assert mol.abs().max() < psa.abs().max() and mol.max() <= 0.05


# -- the headline event ------------------------------------------------------------------------


@pytest.mark.slow
def test_headline_plan_meets_slo_by_simulation():
    import capplan
    from capplan.models import fit_join_curve, fit_sessions

    h = capplan.sample_history()
    ev = h.event("ev-014")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_join_curve(ev["joins"])
        ev60 = h.resample(60).event("ev-014")
        sessions = fit_sessions(ev60["joins"], ev60["leaves"], end_s=5220, clock_start_s=0)
    fc = JoinForecast.from_fit(fit)
    fc = fc.replace(upper=fc.point * 1.25)
    plan = plan_event(
        fc,
        sessions,
        service=JoinService(0.05, scv=2.0),
        streams_per_server=20000,
        margins=Margins(attack_rps=5000.0, zone_loss=1 / 3),
    )
    assert plan.frame["concurrent"].max() > 8e6
    v = plan.validate(seed=1)
    assert v.share_meeting_slo >= 0.95
    plan.chart(v).to_dict()


# -- what-ifs ----------------------------------------------------------------------------------


def test_attack_adds_about_the_staffing_of_its_erlangs():
    from capplan.planning import whatif
    from capplan.queueing import servers_for

    base = small_plan(margins=Margins(burst_quantile=None, spare_workers=0))
    hit = whatif.attack(base, 1000.0)
    extra = hit.frame["workers_needed"] - base.frame["workers_needed"]
    assert np.all(extra > 0)
    # 1000/s x 0.05 s = 50 extra Erlangs: about 50 workers more (the pooled square root
    # changes little); at least the stationary staffing of the attack alone minus its root.
    assert np.all(np.abs(extra - 50) <= 8)
    alone = servers_for(np.array([50.0]), max_wait_prob=0.5).servers[0]
    assert extra.min() >= alone - 2 * np.sqrt(50)


def test_lost_zone_needs_capacity_over_one_minus_f():
    from capplan.planning import whatif

    base = small_plan()
    z = whatif.lost_zone(base, 1 / 3, replan=True)
    f = z.frame
    assert np.all(f["workers"] >= f["workers_needed"] / (1 - 1 / 3) - 1e-9)
    assert np.all(f["stream_servers"] >= f["stream_servers_needed"] / (1 - 1 / 3) - 1e-9)
    with pytest.raises(ValueError, match="fraction"):
        whatif.lost_zone(base, 1.0)


def test_delayed_start_keeps_joins_and_covers_the_new_window():
    from capplan.planning import whatif

    base = small_plan()
    late = whatif.delayed_start(base, 2.0, sharpness=1.0)
    assert late.window == base.window
    # The flood moves 120 s later: the workers' rise moves with it.
    rise = lambda p: p.frame.index[np.argmax(p.frame["workers"].to_numpy())]  # noqa: E731
    assert rise(late) >= rise(base) + 120 - base.interval_s
    with pytest.raises(ValueError, match="minutes"):
        whatif.delayed_start(base, -1.0)


def test_retry_policy_and_compare():
    from capplan.planning import whatif
    from capplan.simulation import ImmediateRetry

    base = small_plan()
    noretry = whatif.retry_policy(base, NoRetry())
    storm = whatif.retry_policy(base, ImmediateRetry(max_retries=10))
    assert noretry.frame["retry_amplification"].iloc[0] == 1.0
    assert storm.frame["retry_amplification"].iloc[0] > base.frame["retry_amplification"].iloc[0]
    assert storm.frame["workers"].max() >= noretry.frame["workers"].max()
    table = whatif.compare({"base": base, "no retry": noretry, "storm": storm})
    assert list(table.index) == ["base", "no retry", "storm"]
    assert table.loc["storm", "peak_workers"] >= table.loc["no retry", "peak_workers"]


def test_a_what_if_as_is_can_simulate_one_scenario():
    from capplan.planning import whatif

    base = small_plan()
    lost = whatif.lost_zone(base, 0.5, seed=3, scenarios=["upper"])
    assert set(lost.to_frame()["scenario"]) == {"upper"}
    both = whatif.lost_zone(base, 0.5, seed=3)
    assert set(both.to_frame()["scenario"]) == {"point", "upper"}
    with pytest.raises(ValueError, match="unknown scenario"):
        whatif.delayed_start(base, 1.0, replan=False, scenarios=["worst"])
