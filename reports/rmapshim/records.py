"""Payload decoders, one per record type of shim/logfmt.h.

decode(log, rec) returns a namedtuple named after the record type (fields
named as in the C structs, strings decoded, pads dropped), or None when
the payload does not fit its type (counted as corrupt by the caller).
"""

import struct
from collections import namedtuple

from .abi import T
from .logread import REC_HDR_SIZE


class DecodeError(Exception):
    pass


def _fixed(name, fmt, fields):
    """(struct, namedtuple or None) of a fixed part; fields as in the C struct."""
    st = struct.Struct("<" + fmt)
    return st, namedtuple(name, fields) if fields else None


RUN_START = _fixed("RunStart", "IIIIiIQQ",
                   "mode events stacks verify pid pfn_access reclaim_rate perturb_seed")
RunStart = namedtuple("RunStart", RUN_START[1]._fields + ("argv", "cwd"))
PROC = _fixed(None, "iiIIII", None)
Proc = namedtuple("Proc", "pid ppid mm parent_mm how exe")
FORK = _fixed("Fork", "iiIIIIQQQ",
              "parent_pid child_pid parent_mm child_mm kind stack pages rmap_ns fork_ns")
EXIT = _fixed("Exit", "iiIIQQ", "pid status mm how pages rmap_ns")
MODULES = _fixed(None, "iIII", None)
Module = namedtuple("Module", "bias lo hi path build_id")
Modules = namedtuple("Modules", "pid generation modules")
MODULE = struct.Struct("<QQQ")
STACK = _fixed(None, "iIII", None)
Stack = namedtuple("Stack", "pid id frames")
MAP_EVENT = _fixed("MapEvent", "iIIIQQIIQQq",
                   "pid mm op cause start end prot_flags stack pages rmap_ns ret")
TRANSITION = _fixed("Transition", "iIHHiiIQQ",
                    "pid mm type cause old_mapcount new_mapcount stack frame vaddr")
TRANSITION_AGG = _fixed(None, "iIII16Q", None)
TransitionAgg = namedtuple("TransitionAgg", "pid stack cause op counts")
LOCK_WAIT = _fixed("LockWait", "iIIIQ", "pid lock_class site stack wait_ns")
LOCKSTAT = _fixed(None, "iI10Q32Q", None)
Lockstat = namedtuple("Lockstat", "pid lock_class acquisitions contentions waittime_min "
                      "waittime_max waittime_total holdtime_min holdtime_max holdtime_total "
                      "owner_changes trylock_failures site_contentions")
ORACLE = _fixed(None, "iIQQQQII", None)
Oracle = namedtuple("Oracle", "pid explicit_cp compared agreed mismatched not_compared "
                    "label mismatches")
MISMATCH = struct.Struct("<Qii")
RACE = _fixed(None, "iHHIIQ", None)
# The other side of the hit; absent from logs older than the race detail.
RACE_OTHER = struct.Struct("<iiHHHH")
Race = namedtuple("Race", "pid race outcome stack other_stack frame other_pid other_tid "
                  "cause other_cause other_window")
VIOLATION = _fixed(None, "iiQQqq80s", None)
Violation = namedtuple("Violation", "pid inv frame vaddr expected found what")
NOTE = _fixed(None, "iI", None)
Note = namedtuple("Note", "pid level text")
RUN_END = _fixed(None, "iIQqq256Q16QQQQII", None)
RunEnd = namedtuple("RunEnd", "exit_status processes duration_ns nr_mapped_final "
                    "nr_mapped_peak events races violations enospc reaped log_flags "
                    "locks_broken")


def _unpack(st, buf, off, end):
    if off + st.size > end:
        raise DecodeError("short payload")
    return st.unpack_from(buf, off)


def _string(buf, off, end):
    """A u32-length string padded to 8; returns (bytes, next offset)."""
    if off + 4 > end:
        raise DecodeError("short string")
    (n,) = struct.unpack_from("<I", buf, off)
    stop = off + 4 + n
    if stop > end:
        raise DecodeError("string overruns its record")
    return bytes(buf[off + 4:stop]), (stop + 7) & ~7


def _text(b):
    return b.decode("utf-8", "replace")


def _run_start(buf, off, end):
    st, _ = RUN_START
    fixed = _unpack(st, buf, off, end)
    argv, p = _string(buf, off + st.size, end)
    cwd, _ = _string(buf, p, end)
    args = [_text(a) for a in argv.rstrip(b"\0").split(b"\0")] if argv else []
    return RunStart(*fixed, args, _text(cwd))


def _proc(buf, off, end):
    st, _ = PROC
    f = _unpack(st, buf, off, end)
    exe, _ = _string(buf, off + st.size, end)
    return Proc(*f[:5], _text(exe))


def _simple(spec):
    st, nt = spec

    def dec(buf, off, end):
        return nt._make(_unpack(st, buf, off, end))
    return dec


def _modules(buf, off, end):
    st, _ = MODULES
    pid, gen, count, _pad = _unpack(st, buf, off, end)
    p = off + st.size
    mods = []
    for _ in range(count):
        bias, lo, hi = _unpack(MODULE, buf, p, end)
        path, p = _string(buf, p + MODULE.size, end)
        bid, p = _string(buf, p, end)
        mods.append(Module(bias, lo, hi, _text(path), bid.hex()))
    return Modules(pid, gen, mods)


def _stack(buf, off, end):
    st, _ = STACK
    pid, sid, n, _pad = _unpack(st, buf, off, end)
    p = off + st.size
    if p + 8 * n > end:
        raise DecodeError("stack overruns its record")
    return Stack(pid, sid, struct.unpack_from("<%dQ" % n, buf, p))


def _transition_agg(buf, off, end):
    f = _unpack(TRANSITION_AGG[0], buf, off, end)
    return TransitionAgg(f[0], f[1], f[2], f[3], f[4:])


def _lockstat(buf, off, end):
    f = _unpack(LOCKSTAT[0], buf, off, end)
    return Lockstat(*f[:12], f[12:])


def _oracle(buf, off, end):
    st, _ = ORACLE
    f = _unpack(st, buf, off, end)
    label, p = _string(buf, off + st.size, end)
    mism = []
    for _ in range(min(f[6], 8)):
        mism.append(_unpack(MISMATCH, buf, p, end))
        p += MISMATCH.size
    return Oracle(*f[:6], _text(label), mism)


def _race(buf, off, end):
    st, _ = RACE
    f = _unpack(st, buf, off, end)
    if off + st.size + RACE_OTHER.size <= end:
        other = RACE_OTHER.unpack_from(buf, off + st.size)[:5]
    else:
        other = (0, 0, 0, 0, 0)
    return Race(*f, *other)


def _violation(buf, off, end):
    f = _unpack(VIOLATION[0], buf, off, end)
    return Violation(*f[:6], _text(f[6].split(b"\0", 1)[0]))


def _note(buf, off, end):
    st, _ = NOTE
    pid, level = _unpack(st, buf, off, end)
    text, _ = _string(buf, off + st.size, end)
    return Note(pid, level, _text(text))


def _run_end(buf, off, end):
    f = _unpack(RUN_END[0], buf, off, end)
    events = [f[5 + 16 * t:5 + 16 * (t + 1)] for t in range(16)]
    races = f[261:277]
    return RunEnd(f[0], f[1], f[2], f[3], f[4], events, races, f[277], f[278],
                  f[279], f[280], f[281])


DECODERS = {
    T["RUN_START"]: _run_start,
    T["PROC_START"]: _proc,
    T["FORK"]: _simple(FORK),
    T["EXEC"]: _proc,
    T["EXIT"]: _simple(EXIT),
    T["MODULES"]: _modules,
    T["STACK"]: _stack,
    T["MAP_EVENT"]: _simple(MAP_EVENT),
    T["TRANSITION"]: _simple(TRANSITION),
    T["TRANSITION_AGG"]: _transition_agg,
    T["LOCK_WAIT"]: _simple(LOCK_WAIT),
    T["LOCKSTAT"]: _lockstat,
    T["ORACLE"]: _oracle,
    T["RACE"]: _race,
    T["VIOLATION"]: _violation,
    T["NOTE"]: _note,
    T["RUN_END"]: _run_end,
}


def decode(buf, rec):
    """Payload of record @rec (a logread tuple) as a namedtuple, or None."""
    dec = DECODERS.get(rec[1])
    if dec is None:
        return None
    off = rec[5]
    try:
        return dec(buf, off + REC_HDR_SIZE, off + rec[6])
    except (DecodeError, struct.error):
        return None
