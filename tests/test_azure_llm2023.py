"""The real Azure LLM inference trace, converted and shipped, checked against the raw files.

Independent truth: ``../shared/data/README.md`` (``code``: 8,819 requests over 57 minutes,
variance/mean of per-second counts 13, up to 67 requests in one second, whole minutes with no
request between minutes of 300-585; ``conv``: 19,366 requests over 58 minutes, variance/mean
1.33) and the raw CSV files themselves.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_written_history_is, docstring_examples

import capplan
from capplan.cli import main
from capplan.converters import CONVERTERS, azure_llm2023
from capplan.data import shipped

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "azure_llm2023"
needs_raw = pytest.mark.skipif(not RAW.exists(), reason=f"raw Azure trace not found at {RAW}")

CODE, CONV = "azure-llm2023-code", "azure-llm2023-conv"


@pytest.fixture(scope="module")
def history():
    return capplan.azure_llm2023_history()


@pytest.fixture(scope="module")
def requests():
    return capplan.azure_llm2023_requests()


def test_shipped_history_is_one_event_per_trace_per_second(history):
    assert history.event_ids == [CODE, CONV]
    assert history.measured == ["requests"]
    assert history.repairs.empty
    assert history.signals.empty  # not scheduled events: nothing known before
    summary = history.summary()
    assert summary["total_requests"].tolist() == [8_819, 19_366]
    assert (summary["interval_s"] == 1).all()
    # 57 and 58 minutes from the first request's second to the last one's
    assert summary["duration_s"].tolist() == [3_437, 3_503]
    for event_id in history.event_ids:
        frame = history.event(event_id)
        np.testing.assert_array_equal(frame.index, np.arange(len(frame)))  # no second missing
        assert frame["timestamp"].iloc[0] == history.events.at[event_id, "actual_start"]


@pytest.mark.parametrize(("event_id", "low", "high"), [(CONV, 1.32, 1.34), (CODE, 12.5, 14)])
def test_dispersion_of_per_second_counts_is_the_readmes(history, event_id, low, high):
    """Variance/mean of per-second counts, zero seconds included: 1.33 (conv), about 13 (code)."""
    counts = history.event(event_id)["requests"]
    assert low <= counts.var() / counts.mean() <= high


def test_code_is_on_off(history):
    """Up to 67 requests in one second; clock minutes of up to 585 beside minutes of none."""
    frame = history.event(CODE)
    assert frame["requests"].max() == 67
    minutes = frame.groupby(frame["timestamp"].dt.floor("min"))["requests"].sum()
    assert minutes.max() == 585
    assert (minutes == 0).sum() >= 5  # whole clock minutes without a request


def test_requests_table_counts_to_the_series_exactly(history, requests):
    """No request dropped: floor(arrival_s) of the requests reproduces each per-second series."""
    assert requests.columns.tolist() == [
        "trace",
        "event_id",
        "timestamp",
        "arrival_s",
        "context_tokens",
        "generated_tokens",
    ]
    assert str(requests["timestamp"].dt.tz) == "UTC"
    assert requests.groupby("trace").size().to_dict() == {"code": 8_819, "conv": 19_366}
    for event_id, part in requests.groupby("event_id"):
        assert part["timestamp"].is_monotonic_increasing
        frame = history.event(event_id)
        seconds = np.floor(part["arrival_s"].to_numpy()).astype(np.int64)
        counts = np.bincount(seconds, minlength=len(frame))
        np.testing.assert_array_equal(counts, frame["requests"].to_numpy())
        start = history.events.at[event_id, "actual_start"]
        np.testing.assert_allclose(
            part["arrival_s"], (part["timestamp"] - start).dt.total_seconds(), atol=1e-9
        )
    assert (requests[["context_tokens", "generated_tokens"]] > 0).all().all()


def test_requests_of_one_trace(requests):
    conv = capplan.azure_llm2023_requests("conv")
    assert len(conv) == 19_366 and set(conv["trace"]) == {"conv"}
    pd.testing.assert_frame_equal(
        conv, requests[requests["trace"] == "conv"].reset_index(drop=True)
    )
    with pytest.raises(ValueError, match=r"trace must be one of 'code', 'conv'.*'chat'"):
        capplan.azure_llm2023_requests("chat")


def test_docstring_example_runs():
    result = docstring_examples(shipped.azure_llm2023_requests)
    assert result.attempted >= 3
    assert result.failed == 0


def test_describe_names_the_shipped_history(capsys):
    assert main(["describe", "--history", "azure_llm2023"]) == 0
    out = capsys.readouterr().out
    assert "2 events" in out and CODE in out and "19,366" in out
    assert CONVERTERS["azure_llm2023"] is azure_llm2023


@needs_raw
def test_converter_reproduces_the_shipped_tables(tmp_path, history, requests):
    paths = azure_llm2023.write(RAW, tmp_path)
    assert_written_history_is(paths, history)
    pd.testing.assert_frame_equal(pd.read_parquet(paths[2]), requests)
    folder = shipped._folder("azure_llm2023")
    for name in (azure_llm2023.LICENSE, azure_llm2023.DESCRIPTION):  # CC-BY: kept unmodified
        assert (tmp_path / name).read_bytes() == (RAW / name).read_bytes()
        assert (folder / name).read_bytes() == (RAW / name).read_bytes()
    assert (tmp_path / azure_llm2023.NOTICE).read_text() == (
        folder / azure_llm2023.NOTICE
    ).read_text()


@needs_raw
@pytest.mark.parametrize("trace", ["code", "conv"])
def test_requests_are_the_raw_rows(requests, trace):
    raw = pd.read_csv(RAW / azure_llm2023.TRACES[trace], dtype={"TIMESTAMP": str})
    mine = requests[requests["trace"] == trace]
    assert len(mine) == len(raw)
    np.testing.assert_array_equal(mine["context_tokens"], raw["ContextTokens"])
    np.testing.assert_array_equal(mine["generated_tokens"], raw["GeneratedTokens"])
    # 0.1 us resolution kept: the raw text's whole seconds and its fraction, to the last digit
    whole, fraction = raw["TIMESTAMP"].str.split(".", expand=True).T.to_numpy()
    whole_ns = pd.to_datetime(whole).to_numpy().astype("datetime64[ns]").astype(np.int64)
    expected_ns = whole_ns + np.array([int(f.ljust(9, "0")) for f in fraction])
    mine_ns = mine["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
    np.testing.assert_array_equal(mine_ns.astype(np.int64), expected_ns)


def test_converter_on_a_small_made_up_trace(tmp_path):
    """Zero seconds kept, arrivals counted in their second, the end after the last second."""
    code = ["2023-11-16 18:00:00.5000000", "2023-11-16 18:00:00.9999999", "2023-11-16 18:00:03.0"]
    conv = ["2023-11-16 18:00:01.2500000", "2023-11-16 18:00:02.0000001"]
    for trace, stamps in [("code", code), ("conv", conv)]:
        pd.DataFrame(
            {
                "TIMESTAMP": stamps,
                "ContextTokens": 100,
                "GeneratedTokens": range(1, len(stamps) + 1),
            }
        ).to_csv(tmp_path / azure_llm2023.TRACES[trace], index=False)
    events, series = azure_llm2023.convert(tmp_path)
    history = capplan.load_history(events, series)

    assert history.event(CODE)["requests"].tolist() == [2, 0, 0, 1]
    assert history.event(CONV)["requests"].tolist() == [1, 1]
    assert history.events.at[CODE, "end"] == pd.Timestamp("2023-11-16 18:00:04", tz="UTC")
    jobs = azure_llm2023.read_requests(tmp_path)
    np.testing.assert_allclose(jobs["arrival_s"], [0.5, 0.9999999, 3.0, 0.25, 1.0000001])

    pd.DataFrame({"TIMESTAMP": code[::-1], "ContextTokens": 1, "GeneratedTokens": 1}).to_csv(
        tmp_path / azure_llm2023.TRACES["code"], index=False
    )
    with pytest.raises(
        ValueError, match=r"AzureLLMInferenceTrace_code\.csv: TIMESTAMP is not sorted"
    ):
        azure_llm2023.convert(tmp_path)


def made_up_traces(folder) -> None:
    for trace in ("code", "conv"):
        pd.DataFrame(
            {
                "TIMESTAMP": ["2023-11-16 18:00:00.5000000", "2023-11-16 18:00:02.2500000"],
                "ContextTokens": [100, 200],
                "GeneratedTokens": [1, 2],
            }
        ).to_csv(folder / azure_llm2023.TRACES[trace], index=False)
    (folder / azure_llm2023.LICENSE).write_text("license")
    (folder / azure_llm2023.DESCRIPTION).write_text("description")


def test_a_conversion_that_fails_part_way_leaves_the_destination_as_it_was(tmp_path, monkeypatch):
    source, destination = tmp_path / "raw", tmp_path / "history"
    source.mkdir()
    made_up_traces(source)
    written = azure_llm2023.write(source, destination)
    assert [p.name for p in written] == ["events.parquet", "series.parquet", "requests.parquet"]
    before = {p.name: p.read_bytes() for p in destination.iterdir()}
    assert len(before) == 6

    def full(*args, **kwargs):  # the license's copy, after the three tables
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(azure_llm2023.shutil, "copyfile", full)
    with pytest.raises(OSError, match="No space"):
        azure_llm2023.write(source, destination)
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == before
    with pytest.raises(OSError, match="No space"):
        azure_llm2023.write(source, tmp_path / "fresh")
    assert not any((tmp_path / "fresh").iterdir())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: (f / azure_llm2023.LICENSE).unlink(), "lacks LICENSE_CC-BY-4.0.txt"),
        (lambda f: (f / azure_llm2023.TRACES["conv"]).unlink(), "lacks AzureLLMInference"),
        (lambda f: (f / azure_llm2023.TRACES["code"]).write_text("TIMESTAMP\n"), "lacks the col"),
        (
            lambda f: (f / azure_llm2023.TRACES["code"]).write_text(
                "TIMESTAMP,ContextTokens,GeneratedTokens\n"
            ),
            "no rows after the header",
        ),
        (
            lambda f: (f / azure_llm2023.TRACES["code"]).write_text(
                "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.5,,3\n"
            ),
            "column 'ContextTokens', row(s) [1]: not a whole number >= 0",
        ),
        (
            lambda f: (f / azure_llm2023.TRACES["code"]).write_text(
                "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00,1,3\n"
            ),
            "column 'TIMESTAMP', row(s) [1]: not a time like",
        ),
    ],
)
def test_a_trace_that_is_not_the_one_described_is_refused_before_writing(tmp_path, edit, message):
    made_up_traces(tmp_path)
    edit(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        azure_llm2023.write(tmp_path, tmp_path / "history")
    assert message in str(error.value), error.value
    assert not (tmp_path / "history").exists()
