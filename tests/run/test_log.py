# SPDX-License-Identifier: MIT
"""Log-writer tests: crash safety under fork, threads, signals and SIGKILL
(populate: with the supervisor's populator running while they claim), and
the log-full path.  Usage: test_log.py stress|populate|full LOGSTRESS_BINARY"""
import collections
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rlogread  # noqa: E402


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def numbered(log):
    """{(pid, tid): [i, ...]} from the "t TID I" notes, in segment order."""
    seen = collections.defaultdict(list)
    for typ, tid, _seq, _ts, payload, seg_pid in log.of_type("NOTE"):
        pid, _level, text = rlogread.note_text(payload)
        if pid != seg_pid:
            fail(f"record of pid {pid} in a segment of pid {seg_pid}")
        if text.startswith("t "):
            _, t, i = text.split()
            if int(t) != tid:
                fail(f"note of tid {t} carries record tid {tid}")
            seen[(pid, tid)].append(int(i))
    return seen


def stress(binary, mode="stress"):
    nproc, nthreads, nrec = 3, 4, 5000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "events.rlog")
        out = subprocess.run([binary, mode, path, str(nproc), str(nthreads), str(nrec)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode:
            fail(f"logstress exited {out.returncode}: {out.stderr}")
        writers = [line.split() for line in out.stdout.splitlines() if line.startswith("writer")]
        parent = int(out.stdout.split("parent ")[1])
        log = rlogread.Log(path)
    if log.corrupt:
        fail(f"{log.corrupt} corrupt segments")
    seen = numbered(log)
    seqs = [r[2] for r in log.records]
    if len(set(seqs)) != len(seqs):
        fail("duplicate sequence numbers")
    for _, pid, threads, n in writers:
        pid, threads, n = int(pid), int(threads), int(n)
        mine = {k: v for k, v in seen.items() if k[0] == pid}
        if len(mine) != threads:
            fail(f"pid {pid}: {len(mine)} threads logged, expected {threads}")
        for (p, tid), got in mine.items():
            # Killed writer: every committed record is there, in order.
            want = list(range(n)) if n >= 0 else list(range(len(got)))
            if got != want:
                fail(f"pid {p} tid {tid}: {len(got)} records, holes or disorder")
            if n < 0 and len(got) < 1000:
                fail(f"killed pid {p} tid {tid}: only {len(got)} of >= 1000 committed")
    mine = {k: v for k, v in seen.items() if k[0] == parent}
    if list(mine.values()) != [[0, 1]]:
        fail(f"parent's records around the vfork: {mine}")
    vforked = [r for r in log.of_type("NOTE") if rlogread.note_text(r[4])[2] == "vfork child"]
    if len(vforked) != 1 or vforked[0][5] == parent:
        fail(f"vfork child's record: {vforked}")
    signals = sum(1 for r in log.of_type("NOTE") if rlogread.note_text(r[4])[2] == "signal")
    print(f"records={len(log.records)} corrupt={log.corrupt} segments={log.segments} "
          f"writers={len(writers)} signal_records={signals}")
    if signals < (nproc - 1) * nthreads:
        fail(f"only {signals} records from signal handlers")
    if mode == "populate":
        populated(out.stdout, log)


def populated(stdout, log):
    """The populator kept up and stopped: see logstress.c."""
    line = [ln for ln in stdout.splitlines() if ln.startswith("populated ")]
    if len(line) != 1:
        fail(f"no 'populated' line: {stdout!r}")
    nxt, wake, state, resident, beyond, err = (int(x) for x in line[0].split()[1:])
    print(f"populator: next_seg={nxt} wake_seg={wake} state={state} err={err}")
    if err:
        fail(f"rlog_populate returned {err}")
    if nxt > wake or nxt != log.next_seg:
        fail(f"populator asleep behind the claims (next_seg {nxt}, wake at {wake}): "
             "a lost wake-up")
    if state != 2:
        fail(f"pop_state {state} after the stop, not RLOG_POP_STOPPED")
    if not resident or beyond:
        fail(f"first pages resident up to the frontier {resident}, past it {beyond}")


def full(binary):
    nthreads, nrec = 2, 2000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "events.rlog")
        out = subprocess.run([binary, "full", path, str(nthreads), str(nrec)],
                             capture_output=True, text=True, timeout=60)
        if out.returncode:
            fail(f"logstress exited {out.returncode}: {out.stderr}")
        kept, dropped, flags, full_at = (int(x) for x in out.stdout.split()[1::2])
        log = rlogread.Log(path)
    lines = out.stderr.splitlines()
    if len(lines) != 1 or "log full" not in lines[0]:
        fail(f"expected one 'log full' line on stderr, got {lines!r}")
    if not flags & 1 or not full_at or not log.flags & 1:
        fail(f"RLOG_F_FULL not set (flags {flags}, full_at {full_at})")
    if dropped != log.dropped or dropped < nthreads * nrec - kept:
        fail(f"dropped {dropped} (header {log.dropped}) for {kept} kept")
    if log.corrupt or len(log.of_type("NOTE")) < kept:
        fail(f"read back {len(log.records)} records, {log.corrupt} corrupt, {kept} kept")
    print(f"kept={kept} dropped={dropped} flags={flags} corrupt={log.corrupt}")


if __name__ == "__main__":
    {"stress": stress, "full": full,
     "populate": lambda b: stress(b, "populate")}[sys.argv[1]](sys.argv[2])
