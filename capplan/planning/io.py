"""Save and load plans as JSON (one file) or CSV (a directory of tables). No pickle.

JSON: ``{"format": "capplan.EventPlan", "version": 1, "inputs": {...}, "frame":
{column: [...]}, "margins": [...], "forecast": {...}}``.
CSV: a directory with ``plan.csv`` (per interval), ``margins.csv``,
``forecast.csv`` (per second: the scenarios) and ``inputs.json`` (the inputs,
which are not a table).

The forecast's observed seconds (``JoinForecast.observed``, which a plan replays when
validated) are kept too: ``"observed": {"name": ..., "t": [...], "counts": [...]}`` in
JSON (null counts: missing seconds), ``observed.csv`` in a directory. A plan saved
without them (or by an earlier capplan) loads with ``observed`` None: it validates on
the model's scenarios only, unless given ``validate(replay=series)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.planning.forecast import JoinForecast
from capplan.planning.inputs import (
    SLO,
    ClientPolicy,
    JoinService,
    Margins,
    QueuePolicy,
    retry_from_dict,
    retry_to_dict,
)
from capplan.planning.plan import EventPlan

__all__ = ["load_plan", "save_plan"]

FORMAT, VERSION = "capplan.EventPlan", 1


def _inputs(plan) -> dict:
    client = {
        "timeout_s": plan.client.timeout_s,
        "on_timeout": plan.client.on_timeout,
        "retry": retry_to_dict(plan.client.retry),
    }
    fc = plan.forecast
    return {
        "format": FORMAT,
        "version": VERSION,
        "slo": asdict(plan.slo),
        "service": asdict(plan.service),
        "client": client,
        "queue": asdict(plan.queue),
        "margins": asdict(plan.margins),
        "sessions": {"name": plan.sessions[0], "params": plan.sessions[1]},
        "window": list(plan.window),
        "interval_s": plan.interval_s,
        "method": plan.method,
        "model": plan.model,
        "streams_per_server": plan.streams_per_server,
        "lobby_start_s": plan.lobby_start_s,
        "notes": plan.notes,
        "forecast_meta": {
            "level": fc.level,
            "alpha_per_second": fc.alpha_per_second,
            "cluster_per_second": fc.cluster_per_second,
            "concurrency_factor": fc.concurrency_factor,
            "kind": fc.kind,
            "description": fc.description,
        },
        "margins_attrs": {k: v for k, v in plan.margins_table.attrs.items()},
        "isa_history": None
        if plan.isa_history is None
        else plan.isa_history.reset_index().to_dict(orient="list"),
    }


def _clean(values):
    return [None if isinstance(v, float) and not np.isfinite(v) else v for v in values]


def save_plan(plan, path, format: str | None = None) -> Path:
    """Write ``plan`` to ``path``: ``format="json"`` (default for a ``.json`` path) or
    ``"csv"`` (a directory). Returns the path written."""
    path = Path(path)
    if format is None:
        format = "json" if path.suffix.lower() == ".json" else "csv"
    if format not in ("json", "csv"):
        raise ValueError(f"format must be 'json' or 'csv'; got {format!r}")
    inputs = _inputs(plan)
    if format == "json":
        doc = dict(inputs)
        frame = plan.frame.reset_index()
        doc["frame"] = {c: _clean(frame[c].tolist()) for c in frame.columns}
        m = plan.margins_table
        doc["margins_table"] = {c: _clean(m[c].tolist()) for c in m.columns}
        doc["forecast"] = {
            "t": plan.forecast.t.tolist(),
            **{k: v.tolist() for k, v in plan.forecast.scenarios.items()},
        }
        obs = plan.forecast.observed
        if obs is not None:
            doc["observed"] = {
                "name": None if obs.name is None else str(obs.name),
                "t": np.asarray(obs.index, dtype=float).tolist(),
                "counts": _clean(obs.to_numpy(dtype=float).tolist()),
            }
        path.write_text(json.dumps(doc))
        return path
    path.mkdir(parents=True, exist_ok=True)
    plan.frame.to_csv(path / "plan.csv")
    plan.margins_table.to_csv(path / "margins.csv", index=False)
    plan.forecast.to_frame().to_csv(path / "forecast.csv")
    obs = plan.forecast.observed
    if obs is not None:
        inputs["observed_name"] = None if obs.name is None else str(obs.name)
        obs.rename("counts").rename_axis("seconds").to_csv(path / "observed.csv")
    elif (path / "observed.csv").exists():
        (path / "observed.csv").unlink()  # an earlier plan's, not this one's
    (path / "inputs.json").write_text(json.dumps(inputs, indent=1))
    return path


def _observed(name, t, counts) -> pd.Series:
    """Observed counts per second as saved, on their integer seconds."""
    index = pd.Index(np.asarray(t, dtype=float).astype(np.int64), name="seconds")
    return pd.Series(counts, index=index, name=name)


def load_plan(path):
    """Read a plan written by :func:`save_plan` (a ``.json`` file or a CSV directory).

    The forecast's observed seconds come back if the plan was saved with them; a plan
    saved without them loads with ``forecast.observed`` None, and its
    :meth:`~EventPlan.validate` then replays nothing by default.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("plan.csv", "margins.csv", "forecast.csv", "inputs.json"):
            if not (path / name).exists():
                raise ValueError(f"{path} is not a saved plan: {name} is missing")
        inputs = json.loads((path / "inputs.json").read_text())
        frame = pd.read_csv(path / "plan.csv", index_col="start_s")
        margins = pd.read_csv(path / "margins.csv")
        fcf = pd.read_csv(path / "forecast.csv", index_col="seconds")
        t = fcf.index.to_numpy(dtype=float)
        curves = {str(c): fcf[c].to_numpy(dtype=float) for c in fcf.columns}
        observed = None
        if (path / "observed.csv").exists():
            o = pd.read_csv(path / "observed.csv", index_col="seconds")["counts"]
            observed = _observed(inputs.get("observed_name"), o.index, o.to_numpy(dtype=float))
    elif path.is_file():
        inputs = json.loads(path.read_text())
        frame = pd.DataFrame(inputs["frame"]).set_index("start_s")
        margins = pd.DataFrame(inputs["margins_table"])
        fd = dict(inputs["forecast"])
        t = np.asarray(fd.pop("t"), dtype=float)
        curves = {k: np.asarray(v, dtype=float) for k, v in fd.items()}
        o = inputs.get("observed")
        observed = None
        if o is not None:
            counts = np.array([np.nan if v is None else v for v in o["counts"]], dtype=float)
            observed = _observed(o["name"], o["t"], counts)
    else:
        raise FileNotFoundError(f"no saved plan at {path}")
    if inputs.get("format") != FORMAT:
        raise ValueError(f"{path} is not a capplan plan (format {inputs.get('format')!r})")
    if inputs.get("version") != VERSION:
        raise ValueError(
            f"{path}: plan format version {inputs.get('version')!r}; this capplan "
            f"reads version {VERSION}"
        )
    frame = frame.astype({c: "float64" for c in frame.columns})
    for c in (
        "workers_needed",
        "workers",
        "queue_limit",
        "stream_servers_needed",
        "stream_servers",
    ):
        frame[c] = frame[c].astype(np.int64)
    frame.index = frame.index.astype(float)
    for c in ("margin", "applies_to", "covers"):
        margins[c] = margins[c].astype(str)
    for c in ("factor", "count"):
        margins[c] = margins[c].astype(float)
    margins["added_at_peak"] = margins["added_at_peak"].astype(np.int64)
    margins.attrs.update(inputs.get("margins_attrs", {}))
    meta = inputs["forecast_meta"]
    fc = JoinForecast(
        t,
        curves["point"],
        curves["upper"],
        float(meta["level"]),
        float(meta["alpha_per_second"]),
        meta["kind"],
        curves,
        meta["description"],
        observed,
        float(meta.get("cluster_per_second", 0.0)),  # plans saved before it: none
        meta.get("concurrency_factor"),
    )
    c = inputs["client"]
    client = ClientPolicy(
        timeout_s=c["timeout_s"], retry=retry_from_dict(c["retry"]), on_timeout=c["on_timeout"]
    )
    hist = inputs.get("isa_history")
    return EventPlan(
        frame=frame,
        margins_table=margins,
        forecast=fc,
        sessions=(inputs["sessions"]["name"], inputs["sessions"]["params"]),
        service=JoinService(**inputs["service"]),
        slo=SLO(**inputs["slo"]),
        client=client,
        queue=QueuePolicy(**inputs["queue"]),
        margins=Margins(**inputs["margins"]),
        window=tuple(inputs["window"]),
        interval_s=inputs["interval_s"],
        method=inputs["method"],
        model=inputs["model"],
        streams_per_server=inputs["streams_per_server"],
        lobby_start_s=inputs["lobby_start_s"],
        notes=inputs["notes"],
        isa_history=None if hist is None else pd.DataFrame(hist).set_index("iteration"),
    )
