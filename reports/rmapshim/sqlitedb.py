"""`export --format sqlite`: the run as tables (documented in docs/reports.md)."""

import os
import sqlite3

from . import abi
from .summary import summarize
from .symbols import Symbolizer

SCHEMA = """
CREATE TABLE run (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE process (pid INTEGER PRIMARY KEY, ppid INTEGER, exe TEXT, how TEXT,
  start_ns INTEGER, end_ns INTEGER, exit_status INTEGER, transitions INTEGER);
CREATE TABLE lifecycle (ts_ns INTEGER, pid INTEGER, kind TEXT, detail TEXT);
CREATE TABLE transition_count (cause TEXT, kind TEXT, count INTEGER);
CREATE TABLE site (pid INTEGER, stack INTEGER, transitions INTEGER);
CREATE TABLE frame (pid INTEGER, stack INTEGER, depth INTEGER, function TEXT, file TEXT,
  line INTEGER, inlined INTEGER, module TEXT, addr INTEGER);
CREATE TABLE nr_mapped (ts_ns INTEGER, value INTEGER);
CREATE TABLE fork (parent_pid INTEGER, child_pid INTEGER, pages INTEGER, rmap_ns INTEGER,
  fork_ns INTEGER);
CREATE TABLE exit (pid INTEGER, status INTEGER, how TEXT, pages INTEGER, rmap_ns INTEGER);
CREATE TABLE lockstat (class TEXT, acquisitions INTEGER, contentions INTEGER,
  waittime_min_ns INTEGER, waittime_max_ns INTEGER, waittime_total_ns INTEGER,
  holdtime_min_ns INTEGER, holdtime_max_ns INTEGER, holdtime_total_ns INTEGER,
  owner_changes INTEGER);
CREATE TABLE lock_wait (ts_ns INTEGER, pid INTEGER, tid INTEGER, class TEXT, site TEXT,
  stack INTEGER, wait_ns INTEGER);
CREATE TABLE race (window TEXT, hits INTEGER, benign INTEGER, caught INTEGER,
  violation INTEGER, reused INTEGER, freed_memory INTEGER);
CREATE TABLE oracle (ts_ns INTEGER, pid INTEGER, label TEXT, compared INTEGER,
  agreed INTEGER, mismatched INTEGER, not_compared INTEGER);
CREATE TABLE violation (pid INTEGER, inv INTEGER, frame INTEGER, expected INTEGER,
  found INTEGER, what TEXT);
"""


def _sql_ints(rows):
    """SQLite integers are signed 64-bit: an unsigned value above 2^63 (a
    frame, an address, a corrupt counter) is stored as its two's complement."""
    for row in rows:
        yield tuple(v - (1 << 64) if isinstance(v, int) and v >= 1 << 63 else v for v in row)


def write(run, path, sym=None):
    """Write @run to a new database at @path (":memory:" for none)."""
    if os.path.exists(path):
        os.unlink(path)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    sym = sym or Symbolizer(run)
    s = summarize(run, sym)
    def ins(sql, rows):
        db.executemany(sql, _sql_ints(rows))
    ins("INSERT INTO run VALUES (?, ?)",
        [(k, str(v)) for k, v in s["run"].items()] +
        [("nr_mapped_peak", s["nr_mapped"]["peak"]), ("nr_mapped_final", s["nr_mapped"]["final"]),
         ("violations", s["violations"])])
    ins("INSERT INTO process VALUES (?,?,?,?,?,?,?,?)",
        [(p["pid"], p["ppid"], p["exe"], p["how"], p["start_ns"], p["end_ns"], p["exit_status"],
          p["transitions"]) for p in s["processes"]])
    ins("INSERT INTO lifecycle VALUES (?,?,?,?)", run.lifecycle)
    ins("INSERT INTO transition_count VALUES (?,?,?)",
        [(c, k, n) for c, kinds in run.by_cause.items() for k, n in kinds.items() if n])
    ins("INSERT INTO site VALUES (?,?,?)",
        [(pid, sid, n) for (pid, sid), n in run.site_transitions.items()])
    sym.prefetch(list(run.site_transitions))
    ins("INSERT INTO frame VALUES (?,?,?,?,?,?,?,?,?)",
        [(pid, sid, d, f.get("function"), f.get("file"), f.get("line"), int(bool(f.get("inlined"))),
          f.get("module"), f.get("addr"))
         for (pid, sid) in run.site_transitions for d, f in enumerate(sym.stack(pid, sid))])
    ins("INSERT INTO nr_mapped VALUES (?,?)", run.nr_mapped_series)
    ins("INSERT INTO fork VALUES (?,?,?,?,?)",
        [(f.parent_pid, f.child_pid, f.pages, f.rmap_ns, f.fork_ns) for f in run.forks])
    ins("INSERT INTO exit VALUES (?,?,?,?,?)",
        [(e.pid, e.status, abi.name_of(abi.EXIT_HOW, e.how), e.pages, e.rmap_ns) for e in run.exits])
    ins("INSERT INTO lockstat VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(l["class"], l["acquisitions"], l["contentions"], l["waittime_min_ns"],
          l["waittime_max_ns"], l["waittime_total_ns"], l["holdtime_min_ns"],
          l["holdtime_max_ns"], l["holdtime_total_ns"], l["owner_changes"]) for l in s["locks"]])
    ins("INSERT INTO lock_wait VALUES (?,?,?,?,?,?,?)",
        [(ts, w.pid, tid, abi.lock_class_name(w.lock_class), abi.lock_site_name(w.site), w.stack,
          w.wait_ns) for ts, tid, w in run.lock_waits])
    ins("INSERT INTO race VALUES (?,?,?,?,?,?,?)",
        [(r["window"], r["hits"], r["outcomes"]["benign"], r["outcomes"]["caught"],
          r["outcomes"]["violation"], r.get("reused"), r.get("freed_memory")) for r in s["races"]])
    ins("INSERT INTO oracle VALUES (?,?,?,?,?,?,?)",
        [(ts, o.pid, o.label, o.compared, o.agreed, o.mismatched, o.not_compared)
         for ts, o in run.oracles])
    ins("INSERT INTO violation VALUES (?,?,?,?,?,?)",
        [(v.pid, v.inv, v.frame, v.expected, v.found, v.what) for v in run.violations])
    db.commit()
    n = db.execute("SELECT (SELECT COUNT(*) FROM lifecycle) + (SELECT COUNT(*) FROM nr_mapped)"
                   " + (SELECT COUNT(*) FROM lock_wait)").fetchone()[0]
    db.close()
    return n
