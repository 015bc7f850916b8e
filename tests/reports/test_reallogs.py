"""Real logs from the shim: forkstorm under locked and lockless.  Skips
cleanly until build/bin/rmapshim-run and build/lib/librmapshim.so exist."""

import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import cli, tool
from rmapshim import model, summary, symbols
from rmapshim.logread import Log
from test_report import SCHEMA, check_schema

RUNNER = tool("rmapshim-run")
BUILD = os.path.dirname(os.path.dirname(RUNNER)) if RUNNER else None
FORKSTORM = os.path.join(BUILD, "examples", "forkstorm") if BUILD else None
LIB = os.path.join(BUILD, "lib", "librmapshim.so") if BUILD else None

pytestmark = pytest.mark.skipif(
    not (RUNNER and os.path.exists(LIB) and os.access(FORKSTORM, os.X_OK)),
    reason="shim not built (rmapshim-run, librmapshim.so, examples/)")


# Every example at the small sizes of examples/CMakeLists.txt.
EXAMPLES = {
    # 16 MiB resident: the run-to-run jitter of a real program (a couple of
    # hundred library pages faulted or not) stays well inside the 5% noise.
    "forkstorm": ["-n", "20", "-m", "16"],
    "cowstorm": ["-n", "3", "-m", "4", "-f", "0.3"],
    "sharedfile": ["-p", "3", "-m", "4"],
    "threadchurn": ["-t", "3", "-n", "40"],
    "execchain": ["-d", "2"],
    "racelab": ["-t", "0.5", "-p", "2"],
}


def trace(rundir, mode, example):
    cp = subprocess.run([RUNNER, "-q", "-o", str(rundir), "--mode", mode, "--",
                         os.path.join(BUILD, "examples", example)] + EXAMPLES[example],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    return rundir


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """forkstorm under locked and lockless, every other example lockless."""
    base = tmp_path_factory.mktemp("real")
    runs = {mode: trace(base / mode, mode, "forkstorm") for mode in ("locked", "lockless")}
    for ex in EXAMPLES:
        if ex != "forkstorm":
            runs[ex] = trace(base / ex, "lockless", ex)
    return runs


def test_real_report_schema(real_runs):
    for name, d in real_runs.items():
        log = Log(os.path.join(d, "events.rlog"))
        assert log.records() and log.integrity.corrupt == 0, name
        s = json.loads(cli("report", "--json", d, check=0).stdout)
        check_schema(s, SCHEMA)
        assert s["run"]["complete"] and s["run"]["exit_status"] == 0, name
        assert s["integrity"]["corrupt"] == 0 and s["integrity"]["unfinished_processes"] == 0, name
        assert s["integrity"]["log_vs_arena"] == {}, (name, s["integrity"]["log_vs_arena"])
        assert s["nr_mapped"]["final"] == 0, name
        assert sum(s["transitions"].values()) > 0, name
        assert s["top_sites"] and s["top_sites"][0]["frames"][0]["function"], name
        assert cli("report", d).returncode == 0
    fs = json.loads(cli("report", "--json", real_runs["locked"], check=0).stdout)
    assert fs["run"]["mode"] == "locked" and fs["run"]["processes"] >= 21
    assert fs["by_cause"]["fork"]["dup"] > 0 and fs["shadow_cost"]["fork_ns_per_page"] > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel oracle needs root (/proc/kpagecount)")
@pytest.mark.parametrize("name", ["locked", "lockless"] + [e for e in EXAMPLES if e != "forkstorm"])
def test_real_acceptance_invariants(real_runs, name):
    """Issue 4's "done when" on every example: these test the shim and
    rmapcore through the report."""
    s = json.loads(cli("report", "--json", real_runs[name], check=0).stdout)
    t = s["transitions"]
    assert t["map_first"] == t["unmap_last"], t
    assert s["violations"] == 0
    assert s["oracle"]["compared"] > 0 and s["oracle"]["mismatched"] == 0, s["oracle"]


def test_real_locked_vs_lockless(real_runs):
    # forkstorm's pte installs vary run to run in ONE mode by up to ~4%
    # (measured: 5236..5423 over 5 lockless runs of -n 20 -m 16, 07:50
    # UTC); `rmapshim compare` measures that noise itself, this test allows
    # 10%: the modes must do the same pte work within it.
    d = json.loads(cli("diff", "--json", "--noise", "10", real_runs["locked"],
                       real_runs["lockless"], check=0).stdout)
    assert d["within_noise"], d["verdict"]
    maplock = [l for l in d["locks"] if l["class"] == "PG_maplock"]
    assert maplock and maplock[0]["b"]["acquisitions"] == 0


def test_real_log_damaged_copies(real_runs, tmp_path):
    path = os.path.join(real_runs["lockless"], "events.rlog")
    full = open(path, "rb").read()
    good = Log(path).records()
    rnd = random.Random(5)
    for i in range(12):
        data = bytearray(full)
        if i % 3 == 0:
            data = data[:rnd.randrange(4096, len(data))]
        elif i % 3 == 1:
            rec = rnd.choice(good)
            data[rec[5] + rnd.randrange(12, rec[6])] ^= 0x10
        else:
            start = rnd.randrange(4096, len(data) - 512)
            data[start:start + 512] = os.urandom(512)
        d = tmp_path / ("copy%d" % i)
        d.mkdir()
        (d / "events.rlog").write_bytes(bytes(data))
        run = model.load(str(d))
        sym = symbols.Symbolizer(run, use_cache=False)
        s = summary.summarize(run, sym)
        i_ = s["integrity"]
        assert i_["records"] <= len(good)
        if i_["records"] < len(good):
            assert i_["corrupt"] or i_["torn_segments"] or i_["truncated"]
        assert cli("report", d).returncode == 0


def test_real_killed_run_is_reported_incomplete(tmp_path):
    d = tmp_path / "killed"
    proc = subprocess.Popen([RUNNER, "-q", "-o", str(d), "--", FORKSTORM, "-n", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        # Wait (bounded) until some forks are in the log, then kill the tree.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = d / "events.rlog"
            if log.exists() and sum(1 for r in Log(str(log)).records() if r[1] == 3) > 5:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    cp = cli("report", d)
    assert cp.returncode == 0 and "INCOMPLETE" in cp.stdout, cp.stderr
    s = json.loads(cli("report", "--json", d, check=0).stdout)
    assert not s["run"]["complete"] and s["integrity"]["unfinished_processes"] >= 1
    assert s["transitions"]["dup"] > 0
