"""`rmapshim export`: the run for other tools (see perfetto.py, sqlitedb.py)."""

import json
import os

from . import abi, flamegraph, perfetto, sqlitedb
from .symbols import Symbolizer


def chrome(run):
    """Chrome trace-event JSON (ts in microseconds)."""
    ev = []
    for p in run.processes.values():
        name = "%s %d" % (os.path.basename(p.exe), p.pid)
        ev.append({"ph": "M", "name": "process_name", "pid": p.pid, "tid": p.pid,
                   "args": {"name": name}})
        end = p.end_ns if p.end_ns is not None else run.last_ts
        ev.append({"ph": "X", "name": name, "pid": p.pid, "tid": p.pid,
                   "ts": p.start_ns / 1e3, "dur": max(end - p.start_ns, 0) / 1e3})
    for ts, pid, kind, detail in run.lifecycle:
        ev.append({"ph": "i", "s": "p", "name": kind, "pid": pid, "tid": pid, "ts": ts / 1e3,
                   "args": {"detail": detail}})
    for ts, v in run.nr_mapped_series:
        ev.append({"ph": "C", "name": "nr_mapped", "pid": 0, "ts": ts / 1e3,
                   "args": {"nr_mapped": v}})
    for ts, tid, w in run.lock_waits:
        ev.append({"ph": "X", "name": abi.lock_class_name(w.lock_class), "pid": w.pid, "tid": tid,
                   "ts": (ts - w.wait_ns) / 1e3, "dur": w.wait_ns / 1e3,
                   "args": {"site": abi.lock_site_name(w.site)}})
    return json.dumps({"traceEvents": ev, "displayTimeUnit": "ns"}).encode(), len(ev)


def folded(run):
    lines = flamegraph.folded_lines(flamegraph.weighted_stacks(run, Symbolizer(run)))
    return ("\n".join(lines) + "\n").encode(), len(lines)


def write(run, fmt, path):
    """Write @run as @fmt to @path; returns the number of events written."""
    if fmt == "sqlite":
        return sqlitedb.write(run, path)
    data, n = {"perfetto": perfetto.build, "chrome": chrome, "folded": folded}[fmt](run)
    with open(path, "wb") as f:
        f.write(data)
    return n
