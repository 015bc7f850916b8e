"""Shared by the hypothesis fuzz tests: no input may make the reader, the
model, the terminal report, diff or any export raise.

Default 2,000 cases: 1,000 byte-level mutations of a real-shaped log
(test_fuzz_bytes.py) and 1,000 logs of well-framed records with random
payloads, which pass the CRC and so reach the decoders
(test_fuzz_records.py); RMAPSHIM_FUZZ_EXAMPLES=N runs N of each.
"""

import os
import shutil
import tempfile

from hypothesis import HealthCheck

import synth
from rmapshim import (diff, export, flamegraph, model, parse, perfetto, sqlitedb, summary,
                      symbols, textreport)
from rmapshim.logread import Log

N = int(os.environ.get("RMAPSHIM_FUZZ_EXAMPLES", "0"))
# CI runs a fixed, seeded set (reproducible); the nightly script sets
# RMAPSHIM_FUZZ_RANDOM=1 to explore new inputs every time.
SETTINGS = dict(deadline=None, database=None,
                derandomize=not os.environ.get("RMAPSHIM_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck))

_base = {}


def base_log():
    if "bytes" not in _base:
        with tempfile.TemporaryDirectory() as d:
            path = synth.make_run(d, "locked", forks=3, pages=6, seg_size=512, nseg=40)
            _base["bytes"] = open(path, "rb").read()
    return _base["bytes"]


def workdir():
    if "dir" not in _base:
        _base["dir"] = tempfile.mkdtemp(prefix="rmapshim-fuzz.")
    return _base["dir"]


def exercise(data):
    """Everything a user can run on a log; only RunError may escape."""
    d = workdir()
    path = os.path.join(d, "events.rlog")
    with open(path, "wb") as f:
        f.write(data)
    log = Log(path)
    recs = log.records()
    assert log.integrity.records == len(recs)
    for r in recs[:200]:
        parse.line(log, r, log.header.get("t0_monotonic_ns", 0))
    log.close()
    try:
        run = model.load(d)
    except model.RunError:
        return None
    sym = symbols.Symbolizer(run, use_cache=False)
    sym.helper = None
    s = summary.summarize(run, sym)
    textreport.render(s, d)
    diff.render(diff.compare(s, s, d, d))
    perfetto.build(run)
    export.chrome(run)
    flamegraph.folded_lines(flamegraph.weighted_stacks(run, sym))
    sqlitedb.write(run, ":memory:", sym)
    run.log.close()
    return s


def cleanup():
    if "dir" in _base:
        shutil.rmtree(_base.pop("dir"), ignore_errors=True)
