"""Load tests written from a plan: the profile by hand, the scripts, and a real Locust run."""

import doctest
import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.loadtest import load_profile, write_k6, write_loadtest, write_locust
from capplan.planning import SLO, JoinForecast, JoinService, plan_event

SESSIONS = ("exponential", {"mean_s": 600.0})


def flood_rates() -> pd.Series:
    """A lobby ramp (400 -> 800/s) and a flood (up to about 2,600/s at 60 s, then decay)."""
    t = np.arange(-600, 1500)
    rise = np.minimum(1.0, (t + 1) / 60)
    rates = np.where(t < 0, 400 + 400 * (t + 600) / 600, 800 + 2200 * np.exp(-t / 300) * rise)
    return pd.Series(rates, index=t)


@pytest.fixture(scope="module")
def plan():
    # A 0.25-s wait target keeps the Little's-law users few (R = 0.25 + 0.05 s).
    forecast = JoinForecast.from_rates(flood_rates(), factor=1.25)
    return plan_event(
        forecast,
        SESSIONS,
        service=JoinService(0.05, scv=2.0),
        streams_per_server=5000,
        window=(-600, 1500),
        slo=SLO(wait_s=0.25, fraction=0.99),
    )


def by_hand(plan, curve, start, end):
    """The forecast's integral (joins) over event seconds [start, end), whole seconds."""
    frame = plan.forecast.to_frame()
    return frame.loc[(frame.index >= start) & (frame.index < end), curve].sum()


def embedded(text, name):
    """A list embedded in the written locustfile, read back."""
    block = re.search(rf"^{name} = \[\n(.*?)^\]", text, re.S | re.M).group(1)
    return [float(x) for x in block.replace("\n", " ").split(",") if x.strip()]


def k6_options(text):
    return json.loads(re.search(r"export const options = (\{.*?\n\});", text, re.S).group(1))


# -- the profile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, start, end",
    [
        (dict(), -600, 1500),
        (dict(compress=60, rate_scale=0.08), -600, 1500),
        (dict(curve="upper", compress=7, rate_scale=0.5, window_s=(-100, 200)), -100, 200),
        (dict(compress=2.5, step_s=3), -600, 1500),  # 840 stages of 3 s: 7.5 event s each
    ],
)
def test_total_joins_are_the_forecasts_integral_times_scale_over_compress(
    plan, options, start, end
):
    profile = load_profile(plan, **options)
    curve = options.get("curve", "point")
    scale = options.get("rate_scale", 1.0) / options.get("compress", 1.0)
    expected = by_hand(plan, curve, start, end) * scale
    assert profile["requests"].sum() == pytest.approx(expected, rel=1e-12)
    assert profile.attrs["total_requests"] == math.floor(expected + 0.5)
    # The compressed window, stage by stage: rates per test second, stages of step_s.
    compress, step = options.get("compress", 1.0), options.get("step_s", 1)
    assert profile["duration_s"].sum() == pytest.approx((end - start) / compress)
    assert np.all(profile["duration_s"].iloc[:-1] == step)
    assert profile["event_s"].iloc[0] == start
    np.testing.assert_allclose(
        profile["rate_per_s"] * profile["duration_s"], profile["requests"], rtol=1e-12
    )


def test_a_stage_is_the_mean_rate_over_its_event_seconds_and_users_follow_littles_law(plan):
    profile = load_profile(plan, compress=60, rate_scale=0.08)
    # Stage 12 (test second 12) covers event seconds 120..180.
    row = profile.loc[12.0]
    assert row["event_s"] == 120
    assert row["rate_per_s"] == pytest.approx(0.08 * by_hand(plan, "point", 120, 180) / 60)
    # Users: ceil(1.5 x (0.25 + 0.05) s x the higher rate of this stage and the next),
    # never fewer than before.
    rate = profile["rate_per_s"].to_numpy()
    ahead = np.append(rate[1:], 0.0)
    need = [math.ceil(1.5 * 0.3 * max(now, then)) for now, then in zip(rate, ahead, strict=True)]
    np.testing.assert_array_equal(profile["users"], np.maximum.accumulate(need))
    assert profile.attrs["peak_users"] == max(need)
    assert profile.attrs["response_s"] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(compress=0), "compress must be > 0"),
        (dict(compress=float("nan")), "compress must be a finite number"),
        (dict(rate_scale=-1), "rate_scale must be > 0"),
        (dict(rate_scale=float("inf")), "rate_scale must be a finite"),
        (dict(step_s=0.5), "step_s must be a whole number"),
        (dict(headroom=0.5), "headroom must be >= 1"),
        (dict(curve="median"), r"curve must be one of .*'point', 'upper'"),
        (dict(window_s=(-900, 0)), r"outside the plan's forecast \(-600\.\.1500 s\)"),
        (dict(window_s=(10, 10)), "start < end"),
        (dict(rate_scale=1e-8), "not one whole join; raise rate_scale"),
    ],
)
def test_bad_options_are_refused(plan, options, message):
    with pytest.raises(ValueError, match=message):
        load_profile(plan, **options)


def test_the_module_examples_run():
    import capplan.loadtest

    failed, tried = doctest.testmod(capplan.loadtest)
    assert tried > 0 and failed == 0


# -- the scripts ------------------------------------------------------------------------------


def test_the_locustfile_embeds_the_profile_and_reads_nothing(plan, tmp_path):
    path = write_locust(plan, tmp_path, compress=60, rate_scale=0.08, host="http://h:1")
    profile = load_profile(plan, compress=60, rate_scale=0.08)
    text = path.read_text()
    compile(text, str(path), "exec")
    np.testing.assert_allclose(embedded(text, "REQUESTS"), profile["requests"], rtol=1e-9)
    np.testing.assert_array_equal(embedded(text, "USERS"), profile["users"])
    assert "open(" not in text and "read_" not in text  # self-contained
    assert "class FloodShape(LoadTestShape)" in text and "HOST = 'http://h:1'" in text
    assert "Little's law" in text
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["total_requests"] == profile.attrs["total_requests"]
    assert settings["littles_law"]["peak_users"] == profile.attrs["peak_users"]
    assert "--headless --host http://h:1" in (tmp_path / "README.txt").read_text()


def test_the_locust_schedule_sends_every_join_in_its_stage(plan, tmp_path):
    """The file's own clock, without Locust's runner: the k-th join's time."""
    path = write_locust(plan, tmp_path, compress=60, rate_scale=0.08)
    profile = load_profile(plan, compress=60, rate_scale=0.08)
    # In a process of its own: importing locust monkey-patches the standard library.
    script = (
        "import json, runpy, sys; ns = runpy.run_path(sys.argv[1]); "
        "print(json.dumps([ns['scheduled_time'](k) for k in range(ns['TOTAL'])]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    times = np.array(json.loads(result.stdout))
    assert len(times) == profile.attrs["total_requests"]
    assert np.all(np.diff(times) > 0) and times[0] > 0 and times[-1] < 35
    per_stage = np.bincount(times.astype(int), minlength=len(profile))
    cumulative = np.cumsum(profile["requests"].to_numpy())
    # Whole joins: each stage's cumulative count is the profile's within rounding.
    assert np.all(np.abs(np.cumsum(per_stage) - cumulative) <= 0.5 + 1e-9)


def test_the_k6_stages_are_the_profile(plan, tmp_path):
    path = write_k6(plan, tmp_path, curve="upper", compress=60, rate_scale=0.08)
    profile = load_profile(plan, curve="upper", compress=60, rate_scale=0.08)
    options = k6_options(path.read_text())
    scenario = options["scenarios"]["join_flood"]
    assert scenario["executor"] == "ramping-arrival-rate"
    assert scenario["timeUnit"] == "1s"  # a peak of 244/s: whole targets per second
    targets = []
    for stage in scenario["stages"]:  # runs of one target are merged: expand them
        seconds = float(stage["duration"].removesuffix("s"))
        targets += [stage["target"]] * round(seconds)
    np.testing.assert_allclose(targets, profile["rate_per_s"], atol=0.5)
    assert scenario["startRate"] == targets[0]
    assert scenario["preAllocatedVUs"] == profile.attrs["peak_users"]
    # maxVUs: the peak rate held for the client's 10-s timeout
    assert scenario["maxVUs"] == math.ceil(profile.attrs["peak_rate_per_s"] * 10.0)


def test_k6_counts_per_minute_when_the_rates_are_small(plan, tmp_path):
    path = write_k6(plan, tmp_path, compress=60, rate_scale=0.0005)
    profile = load_profile(plan, compress=60, rate_scale=0.0005)
    scenario = k6_options(path.read_text())["scenarios"]["join_flood"]
    assert scenario["timeUnit"] == "60s"
    assert scenario["stages"][0]["target"] == round(profile["rate_per_s"].iloc[0] * 60)


def test_write_loadtest_writes_both_with_one_settings(plan, tmp_path):
    paths = write_loadtest(plan, tmp_path, compress=60, rate_scale=0.08)
    names = [p.name for p in paths]
    assert names == ["locustfile.py", "k6.js", "settings.json", "profile.csv", "README.txt"]
    settings = json.loads((tmp_path / "settings.json").read_text())
    k6 = k6_options((tmp_path / "k6.js").read_text())["scenarios"]["join_flood"]
    assert settings["k6"]["preAllocatedVUs"] == k6["preAllocatedVUs"]
    assert settings["k6"]["maxVUs"] == k6["maxVUs"]
    table = pd.read_csv(tmp_path / "profile.csv", index_col="test_s")
    assert table["requests"].sum() == pytest.approx(settings["total_requests"], abs=0.5)


def test_bad_host_or_path_is_refused(plan, tmp_path):
    with pytest.raises(ValueError, match="host must be a URL"):
        write_locust(plan, tmp_path, host="127.0.0.1:80")
    with pytest.raises(ValueError, match="path must start with /"):
        write_k6(plan, tmp_path, path="join")


# -- the command line -------------------------------------------------------------------------


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "capplan.cli", "loadtest", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_both_scripts(plan, tmp_path):
    saved = capplan.save_plan(plan, tmp_path / "plan.json")
    out = tmp_path / "lt"
    result = cli(str(saved), "-o", str(out), "--compress", "60", "--rate-scale", "0.08")
    assert result.returncode == 0, result.stderr
    for name in ("locustfile.py", "k6.js", "settings.json", "profile.csv", "README.txt"):
        assert (out / name).exists() and name in result.stdout
    settings = json.loads((out / "settings.json").read_text())
    assert (
        settings["total_requests"]
        == load_profile(plan, compress=60, rate_scale=0.08).attrs["total_requests"]
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json"], "no saved plan at missing.json"),
        (["bad.json"], "bad.json"),
        (["list.json"], "list.json is not a capplan plan"),
        (["plan.json", "--compress", "0"], "compress must be > 0"),
        (["plan.json", "--compress", "nan"], "compress must be a finite number"),
        (["plan.json", "--rate-scale", "-2"], "rate_scale must be > 0"),
        (["plan.json", "--host", "localhost"], "host must be a URL"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(
    plan, tmp_path, monkeypatch, capsys, args, message
):
    from capplan.cli import main

    capplan.save_plan(plan, tmp_path / "plan.json")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    monkeypatch.chdir(tmp_path)
    assert main(["loadtest", *args, "-o", "out"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("capplan loadtest: error: ")
    assert re.search(message, lines[0])
    assert not (tmp_path / "out").exists()


def test_cli_bad_plan_has_no_traceback(tmp_path):
    result = cli(str(tmp_path / "missing.json"), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"capplan loadtest: error: no saved plan at {tmp_path}/missing.json"
    )


# -- a real Locust run ------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Answers every request at once and keeps (arrival time, scheduled test time)."""

    protocol_version = "HTTP/1.1"  # keep-alive: one connection per Locust user

    def do_GET(self):
        scheduled = self.headers.get("X-Capplan-Scheduled-S")
        self.server.arrivals.append((time.monotonic(), float(scheduled or "nan")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.daemon_threads = True
    httpd.arrivals = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def run_locust(locustfile, host, cwd, timeout_s):
    """Locust headless in its own process group; killed (group and all) if it overruns."""
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"]
    # No --run-time: Locust ignores it with a shape, whose END_S ends the run.
    command += ["--host", host, "--only-summary", "--stop-timeout", "2"]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, out, err


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="pip install capplan[loadtest]"
)
def test_a_real_locust_run_follows_the_exported_profile_within_10_percent(plan, server, tmp_path):
    # The 35-minute window in 35 s (compress 60), rates x 0.08: 34/s in the lobby, a
    # peak of 195/s, 2,874 joins. Loopback only; the shape ends the run after 36 s.
    options = dict(compress=60, rate_scale=0.08)
    locustfile = write_locust(plan, tmp_path / "lt", **options)
    profile = load_profile(plan, **options)
    started = time.monotonic()
    code, _out, err = run_locust(
        locustfile, f"http://127.0.0.1:{server.server_port}", tmp_path, timeout_s=60
    )
    took = time.monotonic() - started
    assert code == 0, err[-3000:]
    arrivals = np.array(server.arrivals)
    total = profile.attrs["total_requests"]
    assert len(arrivals) == total  # bounded: every scheduled join, once, and no more
    assert f"sent {total} of {total} scheduled joins" in err

    # The server's clock to test time: one offset, the median of arrival - scheduled.
    received, scheduled = arrivals[:, 0], arrivals[:, 1]
    offset = np.median(received - scheduled)
    test_s = received - offset
    late = test_s - scheduled
    # Per 5-s window, the achieved count against the profile's; the first is the warm-up.
    windows = np.arange(0, profile.attrs["duration_s"] - 1e-9, 5.0)
    achieved = np.array([np.sum((test_s >= w) & (test_s < w + 5)) for w in windows])
    expected = np.array(
        [
            profile.loc[(profile.index >= w) & (profile.index < w + 5), "requests"].sum()
            for w in windows
        ]
    )
    deviation = achieved / expected - 1
    report = pd.DataFrame(
        {"window_s": windows, "expected": expected, "achieved": achieved, "deviation": deviation}
    )
    print(report.to_string(index=False))
    print(
        f"total {len(arrivals)}, run {took:.1f} s, lateness p50 {np.median(late):.4f} s, "
        f"p99 {np.quantile(late, 0.99):.4f} s, worst window after the warm-up "
        f"{np.abs(deviation[1:]).max():.2%}"
    )
    assert np.all(np.abs(deviation[1:]) <= 0.10), report.to_string()
