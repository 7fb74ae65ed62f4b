"""Where plan checks run: validation, the what-ifs as is and the tipping tables give the same
tables for the same seed in this process (one run after the other, or in threads) and on a
Dask cluster of two worker processes, which must unpickle the jobs (plans, forecasts,
retry policies) to run them."""

import pickle

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.planning import (
    SLO,
    ClientPolicy,
    JoinForecast,
    JoinService,
    Margins,
    plan_event,
    whatif,
)
from capplan.planning.tipping import plan_tipping, tipping_phase
from capplan.simulation import ExponentialBackoff, RetryBudget

SESSIONS = ("exponential", {"mean_s": 600.0})


@pytest.fixture(scope="module")
def town_hall():
    """ev-005 of the sample (a town hall, peak 328 joins/s): its joins per second."""
    return capplan.sample_history().event("ev-005")["joins"]


@pytest.fixture(scope="module")
def plan(town_hall):
    """Twenty minutes around the town hall's flood, sized on its 5-minute means (its real
    seconds' bursts missed: some minutes of the replay fail), clients retrying with back-off
    under a retry budget, an attack margin of 20/s."""
    seen = town_hall.loc[-600:599]
    smooth = seen.rolling(300, center=True, min_periods=1).mean()
    client = ClientPolicy(
        timeout_s=2.0,
        retry=ExponentialBackoff(base=0.5, max_retries=3, budget=RetryBudget()),
    )
    return plan_event(
        JoinForecast.from_rates(smooth, factor=1.0),
        SESSIONS,
        service=JoinService(0.05, scv=2.0),
        streams_per_server=1e6,
        window=(-600, 600),
        slo=SLO(wait_s=0.5, fraction=0.99, max_refused=0.001),
        client=client,
        margins=Margins(attack_rps=20.0),
    )


@pytest.fixture(scope="module")
def replay(town_hall):
    """The town hall's seconds with two gaps: a replay of three stretches."""
    part = town_hall.loc[-600:599].astype(float)
    part.loc[[-200, 130]] = np.nan
    return part


def validation(plan, replay, scheduler):
    return plan.validate(
        replay=replay, scale_to=[None, "upper"], replications=2, seed=7, scheduler=scheduler
    )


def test_a_validation_in_threads_equals_the_validation_one_run_after_the_other(plan, replay):
    inline = validation(plan, replay, "inline")
    threads = validation(plan, replay, "threads")
    assert inline.replays["intervals_judged"].tolist() == [18, 18]  # three stretches each
    pd.testing.assert_frame_equal(threads.frame, inline.frame, check_exact=True)
    pd.testing.assert_frame_equal(threads.replays, inline.replays, check_exact=True)
    assert threads.settings == inline.settings
    # some minutes fail: the equality is not of two tables of zeros
    assert 0 < inline.share_meeting_slo < 1


def test_a_replays_first_stretch_is_the_same_without_the_later_ones(plan, replay):
    whole = plan.validate(replay=replay, scenarios=[], seed=3).frame
    first = plan.validate(replay=replay.loc[:-201], scenarios=[], seed=3).frame
    assert first["start_s"].max() == -300.0
    pd.testing.assert_frame_equal(
        whole[whole["start_s"] <= -300.0].reset_index(drop=True), first, check_exact=True
    )


def test_plans_forecasts_and_policies_survive_pickling(plan, replay):
    back = pickle.loads(pickle.dumps(plan))
    assert back.client == plan.client and back.forecast.point.tobytes() == (
        plan.forecast.point.tobytes()
    )
    again = back.validate(replay=replay, seed=7, scheduler="inline")
    pd.testing.assert_frame_equal(
        again.frame, plan.validate(replay=replay, seed=7, scheduler="inline").frame
    )


def test_an_unknown_scheduler_is_refused_naming_the_choices(plan):
    with pytest.raises(ValueError, match=r"'thread' is neither 'threads', 'inline' nor the"):
        plan.validate(seed=1, scheduler="thread")


# --- on a local cluster of two worker processes ----------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.WARNING,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def ran_on_the_cluster(client, call):
    """``call()``, and whether its jobs ran as tasks of the cluster's workers."""
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        out = call()
    return out, any(str(task["key"]).startswith("job-") for task in stream.data)


@pytest.mark.slow
def test_a_validation_on_two_worker_processes_equals_the_in_process_one(plan, replay, client):
    threads = validation(plan, replay, "threads")
    cluster, on_workers = ran_on_the_cluster(client, lambda: validation(plan, replay, client))
    assert on_workers
    pd.testing.assert_frame_equal(cluster.frame, threads.frame, check_exact=True)
    pd.testing.assert_frame_equal(cluster.replays, threads.replays, check_exact=True)
    # by address, as a cluster elsewhere is reached
    address = client.scheduler.address
    again = plan.validate(replay=replay, seed=7, scenarios=["upper"], scheduler=address)
    inline = plan.validate(replay=replay, seed=7, scenarios=["upper"], scheduler="inline")
    pd.testing.assert_frame_equal(again.frame, inline.frame, check_exact=True)


@pytest.mark.slow
def test_what_ifs_as_is_on_the_cluster_equal_those_in_threads(plan, client):
    for what in (
        lambda s: whatif.attack(plan, 40.0, replan=False, seed=2, scheduler=s),
        lambda s: whatif.lost_zone(plan, 0.25, seed=2, scheduler=s),
        lambda s: whatif.delayed_start(plan, 2, replan=False, seed=2, scheduler=s),
        lambda s: whatif.retry_policy(
            plan, capplan.ImmediateRetry(max_retries=5), replan=False, seed=2, scheduler=s
        ),
    ):
        threads = what("threads")
        cluster, on_workers = ran_on_the_cluster(client, lambda w=what: w(client))
        assert on_workers
        pd.testing.assert_frame_equal(cluster.frame, threads.frame, check_exact=True)
    assert threads.label == "plan as is, retry ImmediateRetry"


@pytest.mark.slow
def test_tipping_tables_on_the_cluster_equal_those_in_this_process(plan, client):
    def same(a, b):
        assert {
            k: v for k, v in a.attrs.items() if k not in ("runtime_s", "scheduler", "points")
        } == {k: v for k, v in b.attrs.items() if k not in ("runtime_s", "scheduler", "points")}
        pd.testing.assert_frame_equal(a, b, check_exact=True)

    args = (20, 0.1, 1.0, 3, 120.0, [45.0, 130.0], [1.0, 20.0])
    kwargs = dict(after_s=30.0, replications=2, seed=3, remedy=["none", "budget"])
    inline = tipping_phase(*args, **kwargs, scheduler="inline")
    threads = tipping_phase(*args, **kwargs, scheduler="threads")
    cluster, on_workers = ran_on_the_cluster(
        client, lambda: tipping_phase(*args, **kwargs, scheduler=client)
    )
    assert on_workers and cluster.attrs["scheduler"] == client.scheduler.address
    assert threads.attrs["scheduler"].startswith("threads(")
    same(threads, inline)
    same(cluster, inline)
    assert "stays down" in set(inline["outcome"])  # not a table of identical outcomes

    both = dict(remedy=["none", "shedding"], after_s=30.0, seed=1)
    here = plan_tipping(plan, [0.5, 1.0], [15], scheduler="inline", **both)
    there = plan_tipping(plan, [0.5, 1.0], [15], scheduler=client, **both)
    same(there, here)
    pd.testing.assert_frame_equal(there.attrs["points"], here.attrs["points"], check_exact=True)
    assert list(dict.fromkeys(here["at"])) == ["peak", "after"]
