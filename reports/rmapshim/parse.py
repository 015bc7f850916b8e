"""`rmapshim parse DIR`: every record on one line, for debugging."""

import os
import sys

from . import abi
from .logread import Log
from .model import RunError
from .records import decode


def fmt_value(v):
    if isinstance(v, int) and v > 0xffff:
        return "%#x" % v
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, int) for x in v) and not any(v):
            return "0"          # all-zero arrays (RUN_END rows, counts[16])
        return "[" + ",".join(fmt_value(x) for x in v) + "]"
    if hasattr(v, "_asdict"):
        return "{" + " ".join("%s=%s" % (k, fmt_value(x)) for k, x in v._asdict().items()) + "}"
    return repr(v) if isinstance(v, str) else str(v)


def line(log, rec, t0):
    seq, typ, ts, tid, pid = rec[:5]
    head = "%8d %12.6f %6d/%-6d %-14s" % (seq, (ts - t0) / 1e9, pid, tid,
                                          abi.name_of(abi.RLOG_TYPES, typ))
    payload = decode(log.buf, rec)
    if payload is None:
        return head + " <undecodable payload, %d bytes>" % (rec[6] - 32)
    return head + " " + " ".join("%s=%s" % (k, fmt_value(v))
                                 for k, v in payload._asdict().items() if k != "pad")


def main(rundir):
    path = os.path.join(rundir, "events.rlog") if os.path.isdir(rundir) else rundir
    if not os.path.exists(path):
        raise RunError("%s: not an rmapshim run directory (no events.rlog)" % rundir)
    log = Log(path)
    if log.error:
        raise RunError("%s: %s" % (path, log.error))
    t0 = log.header["t0_monotonic_ns"]
    out = sys.stdout
    for rec in log.records():
        out.write(line(log, rec, t0) + "\n")
    i = log.integrity
    out.write("# %d records, %d corrupt, %d torn segments%s%s\n" % (
        i.records, i.corrupt, i.torn_segments, ", truncated" if i.truncated else "",
        ", log full" if i.log_full else ""))
    return 0
