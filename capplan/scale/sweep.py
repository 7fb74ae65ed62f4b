"""``sweep``: many simulations (or plan checks) over a grid of scenarios, on Dask.

Each scenario is one call of a function of keyword arguments; scenarios run
in parallel on Dask distributed workers (a local cluster by default, or an
existing cluster's scheduler), or in this process. Every scenario draws its
own random stream from one seed, so where it ran never changes its numbers.
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
import uuid
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from capplan._progress import progress_bar

__all__ = ["scenario_rngs", "simulate_row", "sweep"]

INLINE = "inline"


def simulate_row(**kwargs) -> dict:
    """Run :func:`capplan.simulate` and return its summary as one flat row.

    The default function of :func:`sweep`: the keys are the metrics of
    :meth:`SimulationResult.summary` (``wait_prob``, ``mean_wait_s``,
    ``wait_p99_s``, ``refuse_prob``, ... ; times in s), a small picklable
    dict instead of the whole per-interval result.
    """
    from capplan.simulation import simulate

    return _as_row(simulate(**kwargs))


def scenario_rngs(seed, n: int) -> list[np.random.Generator]:
    """The random generator of each of ``n`` scenarios, in grid order.

    ``numpy.random.SeedSequence(seed).spawn(n)``: independent streams, the
    same for the same seed wherever the scenarios run. Scenario ``i`` alone
    is re-run with ``function(**params, seed=scenario_rngs(seed, n)[i])``.
    """
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(child) for child in sequence.spawn(n)]


def sweep(
    function_or_scenarios,
    grid=None,
    *,
    fixed: Mapping | None = None,
    seed=None,
    scheduler=None,
    n_workers: int = 2,
    processes: bool = True,
    progress: bool = True,
    timeout: float = 5.0,
) -> pd.DataFrame:
    """Run a function over every scenario of a grid, in parallel on Dask.

    Parameters
    ----------
    function_or_scenarios : callable, dict or list of dicts
        The function to run, called as ``function(**fixed, **scenario,
        seed=rng)``; it must be picklable (defined at the top level of an
        importable module) and return a small result: a dict, a pandas
        Series, a one-row DataFrame, a number, or an object with a
        ``summary()`` table of ``value`` per metric (such as
        :class:`capplan.SimulationResult`). Without a function (the grid or
        the scenarios given first), :func:`simulate_row` runs
        :func:`capplan.simulate`.
    grid : dict of lists, or list of dicts
        A dict of lists is crossed into every combination (the cartesian
        product, in the order of ``itertools.product``: the last key varies
        fastest); a list of dicts is taken as the scenarios themselves.
    fixed : dict, optional
        Keyword arguments given to every scenario (not columns of the result).
    seed : int, numpy.random.SeedSequence or None
        Root of the scenarios' random streams: scenario ``i`` gets
        ``numpy.random.default_rng(SeedSequence(seed).spawn(n)[i])`` (see
        :func:`scenario_rngs`), passed as ``seed=`` when the function takes a
        ``seed`` argument. None draws fresh entropy, kept in
        ``result.attrs["seed_entropy"]`` to repeat the sweep.
    scheduler : None, "inline", str or distributed.Client
        Where to run: None starts a ``LocalCluster`` of ``n_workers`` worker
        processes of one thread each, and closes it afterwards; ``"inline"``
        runs every scenario here, one after the other (no Dask); an address
        such as ``"tcp://10.0.0.5:8786"`` uses the running scheduler of a
        cluster (``dask scheduler`` and ``dask worker`` on the machines); a
        ``distributed.Client`` is used as it is and left open.
    n_workers : int, default 2
        Worker processes of the local cluster (with ``scheduler=None``).
    processes : bool, default True
        With ``scheduler=None``: False runs the local workers as threads of
        this process (fast to start; the simulator releases no GIL, so no
        speed-up).
    progress : bool, default True
        Show a progress bar (tqdm, on stderr) as scenarios finish.
    timeout : float, default 5.0
        Seconds to wait for a scheduler given by address before failing.

    Returns
    -------
    pandas.DataFrame
        One row per scenario in grid order, indexed by ``scenario`` (0, 1,
        ...): the scenario's parameters (non-scalar values such as arrays are
        kept as objects), then the result's columns. ``attrs`` holds
        ``"seed_entropy"`` and ``"scheduler"``.

    Raises
    ------
    ValueError
        The grid is empty or malformed, or a parameter is both fixed and swept.
    ConnectionError
        No scheduler answered at the address within ``timeout`` seconds.
    RuntimeError
        A scenario failed: the message names it and its parameters; the
        original error is chained.

    Examples
    --------
    >>> table = sweep(
    ...     {"servers": [9, 10], "arrival_rate": [8.0]},
    ...     fixed={"service_time": 1.0, "duration": 200.0},
    ...     seed=1, scheduler="inline", progress=False,
    ... )
    >>> table[["servers", "arrival_rate"]].to_dict("list")
    {'servers': [9, 10], 'arrival_rate': [8.0, 8.0]}
    >>> bool((table["wait_prob"] >= 0).all())
    True
    """
    if callable(function_or_scenarios):
        function = function_or_scenarios
        if grid is None:
            raise ValueError("grid is required with a function: a dict of lists or list of dicts")
    else:
        if grid is not None:
            raise ValueError(
                "give sweep(function, grid) or sweep(grid); got a non-callable "
                f"{type(function_or_scenarios).__name__} and a grid"
            )
        function, grid = simulate_row, function_or_scenarios
    scenarios = _scenarios(grid)
    fixed = dict(fixed or {})
    clash = sorted({k for s in scenarios for k in s} & set(fixed))
    if clash:
        raise ValueError(f"parameter(s) {clash} are both in fixed and in the grid; keep one")
    takes_seed = _takes_seed(function)
    if "seed" in fixed or any("seed" in s for s in scenarios):
        raise ValueError(
            "seed is set per scenario by sweep (from its seed argument); remove it from the "
            "grid and from fixed"
        )
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"n_workers must be an integer >= 1; got {n_workers!r}")
    if not (isinstance(timeout, numbers.Real) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rngs = scenario_rngs(root, len(scenarios)) if takes_seed else [None] * len(scenarios)
    calls = [({**fixed, **s}, rng) for s, rng in zip(scenarios, rngs, strict=True)]

    if isinstance(scheduler, str) and scheduler == INLINE:
        rows = _run_inline(function, calls, scenarios, progress)
        where = INLINE
    else:
        rows, where = _run_dask(
            function, calls, scenarios, scheduler, n_workers, processes, progress, timeout
        )

    params = pd.DataFrame.from_records(
        [{k: (v if _is_scalar(v) else _Boxed(v)) for k, v in s.items()} for s in scenarios]
    )
    params = params.apply(lambda col: col.map(lambda v: v.value if isinstance(v, _Boxed) else v))
    results = pd.DataFrame.from_records(rows)
    overlap = sorted(set(params.columns) & set(results.columns))
    if overlap:
        results = results.rename(columns={c: f"result_{c}" for c in overlap})
    table = pd.concat([params, results], axis=1)
    table.index = pd.RangeIndex(len(table), name="scenario")
    table.attrs.update(seed_entropy=root.entropy, scheduler=where)
    return table


# --- running ------------------------------------------------------------------------


def _run_one(function: Callable, kwargs: dict, rng) -> dict:
    """One scenario on a worker: call, and shrink the result to a flat row."""
    if rng is not None:
        kwargs = {**kwargs, "seed": rng}
    return _as_row(function(**kwargs))


def _run_inline(function, calls, scenarios, progress) -> list[dict]:
    bar = progress_bar(len(calls), "scenarios", "run", progress)
    rows = []
    for i, (kwargs, rng) in enumerate(calls):
        try:
            rows.append(_run_one(function, kwargs, rng))
        except Exception as error:
            raise _failed(i, scenarios[i], error) from error
        bar.update()
    bar.close()
    return rows


def _run_dask(function, calls, scenarios, scheduler, n_workers, processes, progress, timeout):
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    own_client = True
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        client = Client(cluster)
        where = f"LocalCluster({n_workers} {'processes' if processes else 'threads'})"
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as error:
            raise ConnectionError(
                f"no Dask scheduler answered at {scheduler!r} within {timeout:g} s ({error}); "
                "start one with `dask scheduler` (and workers with `dask worker "
                f"{scheduler}`), check the address and port, or pass scheduler=None for "
                "a local cluster"
            ) from None
        where = scheduler
    elif isinstance(scheduler, Client):
        client, own_client = scheduler, False
        where = str(scheduler.scheduler.address)
    else:
        raise ValueError(
            "scheduler must be None (local cluster), 'inline', an address such as "
            f"'tcp://host:8786' or a distributed.Client; got {scheduler!r}"
        )
    run = uuid.uuid4().hex  # task keys unique on a shared cluster
    try:
        futures = [
            client.submit(_run_one, function, kwargs, rng, pure=False, key=f"scenario-{i}-{run}")
            for i, (kwargs, rng) in enumerate(calls)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        rows: list[dict | None] = [None] * len(futures)
        bar = progress_bar(len(futures), "scenarios", "run", progress)
        for future in as_completed(futures):
            i = index[future.key]
            try:
                rows[i] = future.result()
            except Exception as error:
                client.cancel(futures)
                raise _failed(i, scenarios[i], error) from error
            bar.update()
        bar.close()
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return rows, where


def _failed(i: int, scenario: dict, error: Exception) -> RuntimeError:
    return RuntimeError(f"scenario {i} {scenario} failed: {type(error).__name__}: {error}")


# --- scenarios and results -------------------------------------------------------------


def _scenarios(grid) -> list[dict]:
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid is empty: give a dict of lists of values to sweep")
        keys = list(grid)
        values = []
        for key in keys:
            value = grid[key]
            if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
                raise ValueError(
                    f"grid[{key!r}] must be a list of values to sweep; got {value!r} "
                    f"(wrap a single value in a list, or pass it in fixed=)"
                )
            if len(value) == 0:
                raise ValueError(f"grid[{key!r}] is an empty list: nothing to sweep")
            values.append(list(value))
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        if not grid:
            raise ValueError("the list of scenarios is empty")
        for i, scenario in enumerate(grid):
            if not isinstance(scenario, Mapping):
                raise ValueError(
                    f"scenario {i} must be a dict of keyword arguments; got {scenario!r}"
                )
        return [dict(s) for s in grid]
    raise ValueError(f"grid must be a dict of lists or a list of dicts; got {type(grid).__name__}")


def _takes_seed(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: do not guess
        return False
    return any(p.name == "seed" or p.kind is p.VAR_KEYWORD for p in parameters)


def _as_row(result) -> dict:
    """A flat dict from a function's result (see :func:`sweep`)."""
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, pd.Series):
        return result.to_dict()
    if isinstance(result, pd.DataFrame):
        if len(result) != 1:
            raise ValueError(
                f"the function returned a DataFrame of {len(result)} rows; return one row "
                "(or a dict) per scenario"
            )
        return result.iloc[0].to_dict()
    summary = getattr(result, "summary", None)
    if callable(summary):
        table = summary()
        if isinstance(table, pd.DataFrame) and "value" in table.columns:
            return {str(k): v for k, v in table["value"].items()}
    if _is_scalar(result):
        return {"result": result}
    raise ValueError(
        f"the function returned a {type(result).__name__}; return a dict, a Series, a one-row "
        "DataFrame, a number, or an object with summary()"
    )


def _is_scalar(value) -> bool:
    return (
        value is None
        or isinstance(value, numbers.Number | str | bool | np.generic)
        or (isinstance(value, float) and math.isnan(value))
    )


class _Boxed:
    """Keeps an array-like parameter whole when building the parameter table."""

    def __init__(self, value):
        self.value = value
