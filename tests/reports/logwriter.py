"""A writer of rmapshim log v1 (shim/logfmt.h), for tests only.

Written from the header, independently of reports/rmapshim (so a layout
mistake on one side shows up as a test failure), and used to build
synthetic runs until real ones exist, and damaged logs forever.
"""

import os
import struct
import zlib

HDR_SIZE = 4096
SEG_MAGIC = 0x31474553

(RUN_START, PROC_START, FORK, EXEC, EXIT, MODULES, STACK, MAP_EVENT, TRANSITION,
 TRANSITION_AGG, LOCK_WAIT, LOCKSTAT, ORACLE, RACE, VIOLATION, NOTE, RUN_END) = range(1, 18)
EV_MAP_FIRST, EV_DUP, EV_ADD, EV_REMOVE, EV_UNMAP_LAST, EV_ANON_SET, EV_RESET_AT_FREE = range(1, 8)
CAUSE_FAULT, CAUSE_FORK, CAUSE_COW, CAUSE_MUNMAP = 1, 2, 3, 4
CAUSE_EXIT = 7
MODES = {"locked": 0, "lockless": 1, "lockless-rcu": 2}


def string(b):
    if isinstance(b, str):
        b = b.encode()
    raw = struct.pack("<I", len(b)) + b
    return raw + b"\0" * (-len(raw) % 8)


class Segment:
    def __init__(self, log, index, pid, tid):
        self.log, self.pid, self.tid = log, pid, tid
        self.start = HDR_SIZE + index * log.seg_size
        self.off = self.start + 32
        struct.pack_into("<IIIIQQ", log.buf, self.start, SEG_MAGIC, pid, tid, 0,
                         index, log.now)

    def rec(self, typ, payload, ts=None):
        """Append one record; returns False when the segment is full."""
        payload += b"\0" * (-len(payload) % 8)
        ln = 32 + len(payload)
        if self.off + ln > self.start + self.log.seg_size:
            return False
        log = self.log
        log.seq += 1
        ts = log.now if ts is None else ts
        body = struct.pack("<HHIIQQ", typ, 0, 0, self.tid, log.seq, ts) + payload
        rec = bytearray(struct.pack("<I", ln) + body)
        crc = zlib.crc32(bytes(rec[12:]), zlib.crc32(bytes(rec[4:8])))
        struct.pack_into("<I", rec, 8, crc)
        log.buf[self.off:self.off + ln] = rec
        self.off += ln
        return True


class LogWriter:
    def __init__(self, seg_size=1 << 16, nseg=64, t0=1_000_000_000):
        self.seg_size, self.nseg = seg_size, nseg
        self.buf = bytearray(HDR_SIZE + seg_size * nseg)
        self.next_seg = 0
        self.seq = 0
        self.t0 = t0
        self.now = t0
        self.flags = 0
        self.full_at = 0
        self.dropped = 0
        self.segs = {}

    def writer(self, pid, tid=None):
        """The current segment of thread @tid of @pid (a new one when full)."""
        key = (pid, tid or pid)
        seg = self.segs.get(key)
        if seg is None:
            seg = self._claim(pid, tid or pid)
        return seg

    def _claim(self, pid, tid):
        if self.next_seg >= self.nseg:
            self.flags |= 1
            self.full_at = self.full_at or self.now
            return None
        seg = Segment(self, self.next_seg, pid, tid)
        self.next_seg += 1
        self.segs[(pid, tid)] = seg
        return seg

    def rec(self, pid, typ, payload, tid=None):
        seg = self.writer(pid, tid)
        while seg is not None and not seg.rec(typ, payload):
            seg = self._claim(pid, tid or pid)
        if seg is None:
            self.dropped += 1

    def tick(self, ns=1000):
        self.now += ns

    def bytes(self):
        hdr = struct.pack("<8sIIIIQQQQIIQ40sQ", b"RMAPLOG\0", 1, HDR_SIZE, self.seg_size,
                          self.nseg, self.next_seg, self.seq, 1_700_000_000_000_000_000,
                          self.t0, self.flags, 0, self.full_at, b"synthetic-boot-id",
                          self.dropped)
        self.buf[:len(hdr)] = hdr
        used = HDR_SIZE + self.seg_size * min(self.next_seg, self.nseg)
        return bytes(self.buf[:max(used, HDR_SIZE)]) + b"\0" * (len(self.buf) - used)

    def save(self, rundir):
        os.makedirs(rundir, exist_ok=True)
        path = os.path.join(rundir, "events.rlog")
        with open(path, "wb") as f:
            f.write(self.bytes())
        return path


# ---- payload builders, field order as in shim/logfmt.h ----

def run_start(mode, argv, cwd="/", pid=1):
    return struct.pack("<IIIIiIQQ", MODES.get(mode, mode), 0, 16, 1, pid, 1, 0, 0) + \
        string(b"\0".join(a.encode() for a in argv)) + string(cwd)


def proc(pid, ppid, mm, parent_mm, how, exe):
    return struct.pack("<iiIIII", pid, ppid, mm, parent_mm, how, 0) + string(exe)


def fork(ppid, cpid, pmm, cmm, pages, rmap_ns, fork_ns, stack=0):
    return struct.pack("<iiIIIIQQQ", ppid, cpid, pmm, cmm, 0, stack, pages, rmap_ns, fork_ns)


def exit_(pid, status, mm, pages, rmap_ns, how=0):
    return struct.pack("<iiIIQQ", pid, status, mm, how, pages, rmap_ns)


def modules(pid, gen, mods):
    out = struct.pack("<iIII", pid, gen, len(mods), 0)
    for bias, lo, hi, path, build_id in mods:
        out += struct.pack("<QQQ", bias, lo, hi) + string(path) + string(build_id)
    return out


def stack(pid, sid, ips):
    return struct.pack("<iIII", pid, sid, len(ips), 0) + struct.pack("<%dQ" % len(ips), *ips)


def transition(pid, mm, typ, cause, old, new, frame, vaddr, stack_id=0):
    return struct.pack("<iIHHiiIQQ", pid, mm, typ, cause, old, new, stack_id, frame, vaddr)


def transition_agg(pid, stack_id, cause, op, counts):
    c = [0] * 16
    for t, n in counts.items():
        c[t] = n
    return struct.pack("<iIII16Q", pid, stack_id, cause, op, *c)


def lock_wait(pid, cls, site, stack_id, wait_ns):
    return struct.pack("<iIIIQ", pid, cls, site, stack_id, wait_ns)


def lockstat(pid, cls, acq, cont, wait, hold, owner, sites=None):
    s = [0] * 32
    for k, v in (sites or {}).items():
        s[k] = v
    return struct.pack("<iI10Q32Q", pid, cls, acq, cont, wait[0], wait[1], wait[2],
                       hold[0], hold[1], hold[2], owner, 0, *s)


def oracle(pid, label, compared, agreed, mismatched, not_compared, mism=()):
    return struct.pack("<iIQQQQII", pid, 1, compared, agreed, mismatched, not_compared,
                       len(mism), 0) + string(label) + \
        b"".join(struct.pack("<Qii", *m) for m in mism)


def race(pid, race_id, outcome, frame, stack_id=0, other=0, other_side=None):
    """A race hit; @other_side (pid, tid, cause, other_cause, window) adds the
    race-detail tail, without it the record is the older 24-byte one."""
    rec = struct.pack("<iHHIIQ", pid, race_id, outcome, stack_id, other, frame)
    if other_side:
        rec += struct.pack("<iiHHHH", *other_side, 0)
    return rec


def violation(pid, inv, frame, expected, found, what):
    return struct.pack("<iiQQqq80s", pid, inv, frame, 0, expected, found, what.encode())


def note(pid, level, text):
    return struct.pack("<iI", pid, level) + string(text)


def run_end(status, processes, duration, final, peak, events, races=None, violations=0,
            flags=0):
    ev = [0] * 256
    for (t, c), n in events.items():
        ev[t * 16 + c] = n
    r = [0] * 16
    for k, v in (races or {}).items():
        r[k] = v
    return struct.pack("<iIQqq256Q16QQQQII", status, processes, duration, final, peak,
                       *ev, *r, violations, 0, 0, flags, 0)
