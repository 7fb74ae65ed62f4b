"""The Azure LLM inference trace (2023) as a history, and its requests with their sizes.

Source: Microsoft Azure's public dataset ``AzureLLMInferenceDataset2023``
(``Azure/AzurePublicDataset``), described in P. Patel, E. Choukse, C.
Zhang, Í. Goiri, A. Shah, S. Maleki, R. Bianchini, "Splitwise: Efficient
generative LLM inference using phase splitting", ISCA 2024. License: CC-BY
4.0. The converter copies the license and the upstream description
(:data:`LICENSE`, :data:`DESCRIPTION`) beside the tables and writes
:data:`NOTICE_TEXT` (attribution and the changes made), as the license
requires.

Two traces, one row per request: ``code`` (code completion, 8,819 requests
over 57 minutes) and ``conv`` (conversation, 19,366 requests over 58
minutes), each with its arrival ``TIMESTAMP`` (written to 0.1 us, but the
seventh decimal is always 0: microseconds) and its size, ``ContextTokens``
and ``GeneratedTokens``.

**Clock.** The trace does not say which zone its timestamps are in; they
are taken as UTC. (The upstream description says the traces were
collected on 11 November 2023; their timestamps say 16 November.)

**Events.** Not scheduled events: each trace is one event,
``azure-llm2023-code`` and ``azure-llm2023-conv``, whose ``scheduled_start``
and ``actual_start`` are the whole second of its first request and whose
``end`` is one second after the whole second of its last. No audience
signal is known; the text attribute ``trace`` names the trace.

**Series.** Per-second ``requests`` (arrivals, each request counted once
at the second it arrived in) from the first request's second to the last
one's, every second present: a second with no request is a real zero
(``code`` is on/off: whole minutes without a request).

**Requests** (``requests.parquet``), one row per request, in arrival order:
``trace``, ``event_id``, ``timestamp`` (arrival, UTC), ``arrival_s``
(seconds since the event's ``actual_start``, so ``floor(arrival_s)`` is the
index of its second in ``History.event(event_id)``), ``context_tokens``
(prompt) and ``generated_tokens`` (output). See
:func:`capplan.azure_llm2023_requests`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.converters import _source
from capplan.converters._parquet import write_parquet

TRACES = {
    "code": "AzureLLMInferenceTrace_code.csv",
    "conv": "AzureLLMInferenceTrace_conv.csv",
}
NAMES = {
    "code": "Azure LLM inference, code completion (2023-11-16, about an hour)",
    "conv": "Azure LLM inference, conversation (2023-11-16, about an hour)",
}
LICENSE = "LICENSE_CC-BY-4.0.txt"
DESCRIPTION = "AzureLLMInferenceDataset2023.md"
NOTICE = "NOTICE.md"
REQUESTS = "requests.parquet"
COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")

NOTICE_TEXT = """\
# Azure LLM inference trace 2023: attribution and changes

`events.parquet`, `series.parquet` and `requests.parquet` are adapted by
`capplan.converters.azure_llm2023` from the "Azure LLM inference trace 2023"
(`AzureLLMInferenceTrace_code.csv`, `AzureLLMInferenceTrace_conv.csv`) of
Microsoft Azure's public dataset, https://github.com/Azure/AzurePublicDataset
(commit 790921015d50dd6aae7f7e47f39ba0e235ad6b08), licensed under the Creative
Commons Attribution 4.0 International license (CC-BY 4.0, `LICENSE_CC-BY-4.0.txt`
here; https://creativecommons.org/licenses/by/4.0/). The upstream description is
kept unmodified in `AzureLLMInferenceDataset2023.md`.

Cite: Pratyush Patel, Esha Choukse, Chaojie Zhang, Íñigo Goiri, Aashaka Shah,
Saeed Maleki, Ricardo Bianchini. "Splitwise: Efficient generative LLM inference
using phase splitting". In Proceedings of the International Symposium on
Computer Architecture (ISCA 2024). ACM, 2024.

Changes made: the timestamps are taken as UTC (the trace does not state their
zone); columns renamed (`TIMESTAMP` to `timestamp`, `ContextTokens` to
`context_tokens`, `GeneratedTokens` to `generated_tokens`); `arrival_s` (seconds
since the trace's first whole second) added; arrivals counted per second into
`series.parquet`. No request was dropped or altered.
"""


def read_requests(source) -> pd.DataFrame:
    """Every request of both traces in `source`, in arrival order (see the module
    docstring for the columns).

    Raises
    ------
    FileNotFoundError
        A trace missing from `source`.
    ValueError
        A file that is not the trace described, naming the column and the row: a
        missing column, no request, a ``TIMESTAMP`` not written ``YYYY-MM-DD
        HH:MM:SS.fraction`` or out of order, a token count that is not a whole number
        >= 0.
    """
    source = _source.source_folder(source, TRACES.values())
    parts = []
    for trace, file_name in TRACES.items():
        path = source / file_name
        raw = _source.read_csv(path, COLUMNS, text=("TIMESTAMP",))
        timestamp = _source.utc_times(raw, "TIMESTAMP", path, "%Y-%m-%d %H:%M:%S.%f")
        timestamp = timestamp.astype("datetime64[ns, UTC]")
        if not timestamp.is_monotonic_increasing:
            row = int(np.flatnonzero(np.diff(pd.DatetimeIndex(timestamp).asi8) < 0)[0]) + 2
            raise ValueError(
                f"{path}: TIMESTAMP is not sorted: row {row} comes before the row above"
            )
        start = timestamp.iloc[0].floor("s")
        parts.append(
            pd.DataFrame(
                {
                    "trace": trace,
                    "event_id": f"azure-llm2023-{trace}",
                    "timestamp": timestamp,
                    "arrival_s": (timestamp - start).dt.total_seconds(),
                    "context_tokens": _source.counts(raw, "ContextTokens", path),
                    "generated_tokens": _source.counts(raw, "GeneratedTokens", path),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def convert(source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and series tables from the trace folder `source`.

    `source` holds ``AzureLLMInferenceTrace_code.csv`` and
    ``AzureLLMInferenceTrace_conv.csv`` (``TIMESTAMP``, ``ContextTokens``,
    ``GeneratedTokens``, one row per request, sorted); what is refused is
    :func:`read_requests`'s.
    """
    return _tables(read_requests(source))


def _tables(every: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    events, series = [], []
    for event_id, requests in every.groupby("event_id", sort=True):
        seconds = requests["timestamp"].dt.floor("s")
        grid = pd.date_range(seconds.iloc[0], seconds.iloc[-1], freq="s", name="timestamp")
        counts = seconds.value_counts().reindex(grid, fill_value=0)
        trace = requests["trace"].iloc[0]
        events.append(
            {
                "event_id": event_id,
                "name": NAMES[trace],
                "scheduled_start": grid[0],
                "actual_start": grid[0],
                "end": grid[-1] + pd.Timedelta(seconds=1),
                "trace": trace,
            }
        )
        series.append(
            pd.DataFrame(
                {"event_id": event_id, "timestamp": grid, "requests": counts.to_numpy(np.int64)}
            )
        )
    return pd.DataFrame(events), pd.concat(series, ignore_index=True)


def write(source, destination) -> tuple[Path, Path, Path]:
    """Convert the traces in `source` into ``events.parquet``, ``series.parquet``
    and ``requests.parquet`` in `destination`, with the license, the upstream
    description and the attribution notice beside them.

    Every input is checked before anything is written, and the six files are renamed
    into place together: a failure leaves `destination` as it was.
    """
    source = _source.source_folder(source, [*TRACES.values(), LICENSE, DESCRIPTION])
    destination = _source.destination_folder(destination)
    requests = read_requests(source)
    events, series = _tables(requests)
    paths = _source.write_all(
        destination,
        {
            "events.parquet": lambda p: write_parquet(events, p),
            "series.parquet": lambda p: write_parquet(series, p),
            REQUESTS: lambda p: write_parquet(requests, p),
            LICENSE: lambda p: shutil.copyfile(source / LICENSE, p),
            DESCRIPTION: lambda p: shutil.copyfile(source / DESCRIPTION, p),
            NOTICE: lambda p: p.write_text(NOTICE_TEXT),
        },
    )
    return paths[0], paths[1], paths[2]
