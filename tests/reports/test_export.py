"""`rmapshim export`: every format decodes and says what the run did."""

import json
import re
import sqlite3
import struct

from conftest import cli


def fields(buf):
    """A minimal protobuf wire decoder: [(field, wire type, value)]."""
    out, i = [], 0

    def varint():
        nonlocal i
        n = shift = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                return n
    while i < len(buf):
        k = varint()
        f, wire = k >> 3, k & 7
        if wire == 0:
            out.append((f, 0, varint()))
        elif wire == 1:
            out.append((f, 1, struct.unpack_from("<d", buf, i)[0]))
            i += 8
        elif wire == 2:
            n = varint()
            out.append((f, 2, bytes(buf[i:i + n])))
            i += n
        else:
            raise AssertionError("wire type %d at %d" % (wire, i))
    assert i == len(buf)
    return out


def msg(fs, field):
    return [v for f, _, v in fs if f == field]


def export(d, fmt, tmp_path):
    out = tmp_path / ("out." + fmt)
    cli("export", d, "--format", fmt, "-o", out, check=0)
    return out


def test_perfetto_structure(run_dirs, tmp_path):
    data = export(run_dirs["locked"], "perfetto", tmp_path).read_bytes()
    packets = [fields(p) for p in msg(fields(data), 1)]      # Trace.packet
    assert all(msg(p, 10) == [1] for p in packets)          # one trusted sequence
    tracks = [fields(msg(p, 60)[0]) for p in packets if msg(p, 60)]
    procs = {fields(msg(t, 3)[0])[0][2]: msg(t, 1)[0] for t in tracks if msg(t, 3)}
    assert sorted(procs) == [1000, 1001, 1002, 1003]
    counters = [msg(t, 2)[0] for t in tracks if msg(t, 8)]
    assert b"nr_mapped" in counters
    events = [(p, fields(msg(p, 11)[0])) for p in packets if msg(p, 11)]
    kinds = {}
    for _, e in events:
        kinds.setdefault(msg(e, 9)[0], []).append(e)
    # Every process is one slice: begin and end on its own track.
    begins = [msg(e, 11)[0] for e in kinds[1]]
    ends = [msg(e, 11)[0] for e in kinds[2]]
    assert sorted(begins) == sorted(ends)
    assert set(procs.values()) <= set(begins)
    names = {msg(e, 23)[0] for e in kinds[3]}
    assert {b"fork", b"exit"} <= names
    peak = max(msg(e, 30)[0] for e in kinds[4] if msg(e, 11) == [1])
    assert peak == 8
    # Lock waits: PG_maplock slices, on a track whose parent is a process.
    assert [msg(e, 23) for e in kinds[1]].count([b"PG_maplock"]) == 3


def test_chrome_json(run_dirs, tmp_path):
    doc = json.loads(export(run_dirs["lockless"], "chrome", tmp_path).read_text())
    ev = doc["traceEvents"]
    assert {e["ph"] for e in ev} >= {"M", "X", "i", "C"}
    assert sum(1 for e in ev if e["ph"] == "i" and e["name"] == "fork") == 3


def test_folded_lines_parse(run_dirs, tmp_path):
    lines = export(run_dirs["lockless"], "folded", tmp_path).read_text().splitlines()
    total = 0
    for line in lines:
        m = re.fullmatch(r"(\S+(?:;\S+)*) (\d+)", line)
        assert m, line
        total += int(m.group(2))
    # Every transition of every process is in some stack (or [no_stack]).
    assert total == 8 + 24 + 24 + 8 + 8 + 8


def test_sqlite_documented_queries(run_dirs, tmp_path):
    db = sqlite3.connect(str(export(run_dirs["locked"], "sqlite", tmp_path)))
    # docs/reports.md, "SQLite export": the example queries.
    kinds = dict(db.execute("SELECT kind, SUM(count) FROM transition_count GROUP BY kind"))
    assert kinds["dup"] == 24 and kinds["unmap_last"] == 8
    assert db.execute("SELECT COUNT(*) FROM process WHERE end_ns IS NULL").fetchone() == (0,)
    assert db.execute("SELECT contentions FROM lockstat WHERE class = 'PG_maplock'").fetchone() == (3,)
    fork_cost = db.execute("SELECT SUM(rmap_ns) * 1.0 / SUM(pages) FROM fork").fetchone()[0]
    assert 4000 <= fork_cost <= 4100
    top = db.execute("SELECT s.transitions, f.function, f.module FROM site s JOIN frame f "
                     "ON f.pid = s.pid AND f.stack = s.stack AND f.depth = 0 "
                     "ORDER BY s.transitions DESC LIMIT 1").fetchone()
    assert top[0] == 24 and top[2] == "forkstorm"
    assert db.execute("SELECT MAX(value) FROM nr_mapped").fetchone() == (8,)
    assert db.execute("SELECT COUNT(*) FROM lock_wait").fetchone() == (3,)
