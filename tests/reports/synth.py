"""Synthetic runs: a forkstorm-like workload written with logwriter.

The parent faults @pages anon pages, forks @forks children that exit at
once, then exits itself.  @lose_first_exit leaves one aggregated record
out of the log while the end record still counts it (a writer's loss).  Transitions follow the shim's default
--events transitions: first map and last unmap individually, the rest
aggregated per operation.  Every count is known, so tests can assert them.
"""

import random

import logwriter as lw

EXE = "/usr/bin/forkstorm"
BIAS = 0x555555554000
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
LIBC_BIAS = 0x7ffff7dc0000
PG_MAPLOCK, PG_LOCKED, ANON_VMA, PAGE_TABLE = 0, 1, 2, 4


def expected(mode, forks, pages):
    """What report --json must say about make_run(mode, forks, pages)."""
    return {
        "map_first": pages, "dup": forks * pages, "add": 0, "remove": forks * pages,
        "unmap_last": pages, "anon_mapping_set": pages,
        "mapping_reset_at_free": 0 if mode == "locked" else pages,
        "processes": forks + 1,
    }


def make_run(rundir, mode="lockless", forks=3, pages=8, killed=False, seed=1,
             races=True, violations=0, seg_size=1 << 16, nseg=64, lose_first_exit=False):
    rnd = random.Random(seed)
    w = lw.LogWriter(seg_size=seg_size, nseg=nseg)
    pid, mm = 1000, 1
    events = {}

    def count(t, c, n):
        events[(t, c)] = events.get((t, c), 0) + n

    w.rec(pid, lw.RUN_START, lw.run_start(mode, [EXE, "-n", str(forks)], "/tmp", pid=999))
    w.rec(pid, lw.PROC_START, lw.proc(pid, 999, mm, 0, 0, EXE))
    w.rec(pid, lw.MODULES, lw.modules(pid, 1, [
        (BIAS, BIAS + 0x1000, BIAS + 0x3000, EXE, b"\x12\x34"),
        (LIBC_BIAS, LIBC_BIAS + 0x28000, LIBC_BIAS + 0x17d000, LIBC, b"\xab\xcd")]))
    w.rec(pid, lw.STACK, lw.stack(pid, 1, [BIAS + 0x1150, BIAS + 0x1290, LIBC_BIAS + 0x2724a]))
    w.rec(pid, lw.STACK, lw.stack(pid, 2, [BIAS + 0x11a0, BIAS + 0x1290]))
    for p in range(pages):
        w.tick(rnd.randint(500, 1500))
        w.rec(pid, lw.TRANSITION, lw.transition(pid, mm, lw.EV_MAP_FIRST, lw.CAUSE_FAULT,
                                                0, 1, 0x100 + p, 0x7f0000000000 + 4096 * p, 1))
    count(lw.EV_MAP_FIRST, lw.CAUSE_FAULT, pages)
    w.rec(pid, lw.TRANSITION_AGG, lw.transition_agg(pid, 1, lw.CAUSE_FAULT, 1,
                                                    {lw.EV_ANON_SET: pages}))
    count(lw.EV_ANON_SET, lw.CAUSE_FAULT, pages)
    base_fork = 4000 if mode == "locked" else 3000
    for i in range(forks):
        child = pid + 1 + i
        w.tick(10_000)
        rmap_ns = pages * (base_fork + rnd.randint(0, 100))
        w.rec(pid, lw.FORK, lw.fork(pid, child, mm, mm + 1 + i, pages, rmap_ns, 50_000, 2))
        w.rec(pid, lw.TRANSITION_AGG, lw.transition_agg(pid, 2, lw.CAUSE_FORK, 0,
                                                        {lw.EV_DUP: pages}))
        count(lw.EV_DUP, lw.CAUSE_FORK, pages)
        w.rec(child, lw.PROC_START, lw.proc(child, pid, mm + 1 + i, mm, 1, EXE))
        if killed and i == forks - 1:
            break
        w.tick(5_000)
        if not (lose_first_exit and i == 0):
            w.rec(child, lw.TRANSITION_AGG, lw.transition_agg(child, 0, lw.CAUSE_EXIT, 0,
                                                              {lw.EV_REMOVE: pages}))
        count(lw.EV_REMOVE, lw.CAUSE_EXIT, pages)
        w.rec(child, lw.EXIT, lw.exit_(child, 0, mm + 1 + i, pages, pages * base_fork // 2))
        if mode == "locked":
            w.rec(pid, lw.LOCK_WAIT, lw.lock_wait(pid, PG_MAPLOCK, 3, 2, 1500 + i))
    if races and mode != "locked":
        w.rec(pid, lw.RACE, lw.race(pid, 10, 1, 0x100, 1, 2))
        # the other side: a forking pid 1001 (cause fork) in page_dup_rmap's window
        w.rec(pid, lw.RACE, lw.race(pid, 1, 0, 0x101, 1, 0, (1001, 1001, 7, 2, 1)))
    for v in range(violations):
        w.rec(pid, lw.VIOLATION, lw.violation(pid, 2, 0x100 + v, 1, 2, "mapcount != ptes"))
    w.rec(pid, lw.ORACLE, lw.oracle(pid, "after-forks", pages, pages, 0, 3))
    if killed:
        return w.save(rundir)
    w.tick(20_000)
    for p in range(pages):
        w.rec(pid, lw.TRANSITION, lw.transition(pid, mm, lw.EV_UNMAP_LAST, lw.CAUSE_EXIT,
                                                1, 0, 0x100 + p, 0x7f0000000000 + 4096 * p))
    count(lw.EV_UNMAP_LAST, lw.CAUSE_EXIT, pages)
    if mode != "locked":
        w.rec(pid, lw.TRANSITION_AGG, lw.transition_agg(pid, 0, lw.CAUSE_EXIT, 0,
                                                        {lw.EV_RESET_AT_FREE: pages}))
        count(lw.EV_RESET_AT_FREE, lw.CAUSE_EXIT, pages)
    w.rec(pid, lw.EXIT, lw.exit_(pid, 0, mm, pages, pages * 1500))
    classes = [PG_LOCKED, ANON_VMA, PAGE_TABLE] + ([PG_MAPLOCK] if mode == "locked" else [])
    for cls in classes:
        cont = forks if cls == PG_MAPLOCK else 0
        w.rec(pid, lw.LOCKSTAT, lw.lockstat(0, cls, 10 * pages, cont, (100, 1500, 1500 * cont),
                                            (50, 900, 40 * pages), cont, {3: cont}))
    w.rec(pid, lw.ORACLE, lw.oracle(pid, "exit", pages, pages, 0, 0))
    duration = w.now - w.t0
    w.rec(pid, lw.RUN_END, lw.run_end(0, forks + 1, duration, 0, pages, events,
                                      {10: 1, 1: 1} if races and mode != "locked" else {},
                                      violations))
    return w.save(rundir)


def bulk_log(path_dir, nrecords, seg_size=1 << 20):
    """A log of @nrecords TRANSITION records in few segments, built fast."""
    import os
    import struct
    import zlib
    per_seg = (seg_size - 32) // 72
    nseg = (nrecords + per_seg - 1) // per_seg
    buf = bytearray(lw.HDR_SIZE + nseg * seg_size)
    seq = 0
    for s in range(nseg):
        start = lw.HDR_SIZE + s * seg_size
        struct.pack_into("<IIIIQQ", buf, start, lw.SEG_MAGIC, 7, 7 + s % 2, 0, s, 0)
        off = start + 32
        for _ in range(min(per_seg, nrecords - seq)):
            seq += 1
            payload = struct.pack("<iIHHiiIQQ", 7, 1, 1, 1, 0, 1, 0, seq, seq * 4096)
            body = struct.pack("<HHIIQQ", lw.TRANSITION, 0, 0, 7, seq, seq) + payload
            crc = zlib.crc32(body[8:], zlib.crc32(body[:4]))
            buf[off:off + 72] = struct.pack("<I", 72) + body[:4] + struct.pack("<I", crc) + \
                body[8:]
            off += 72
    struct.pack_into("<8sIIIIQQQQIIQ40s", buf, 0, b"RMAPLOG\0", 1, lw.HDR_SIZE, seg_size,
                     nseg, nseg, seq, 0, 0, 0, 0, 0, b"bulk")
    os.makedirs(path_dir, exist_ok=True)
    with open(os.path.join(path_dir, "events.rlog"), "wb") as f:
        f.write(buf)
