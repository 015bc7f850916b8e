# SPDX-License-Identifier: MIT
"""shimlog - the minimal log reader of the shim tests (logfmt.h, v1).

Written from docs/log-format.md independently of reports/, so a writer bug
has to fool two readers.  Only what the shim tests assert is decoded.
"""
import collections
import struct
import zlib

HDR = struct.Struct("<8sIIIIQQQQIIQ40sQ")
SEG = struct.Struct("<IIIIQQ")
REC = struct.Struct("<IHHIIQQ")
SEG_MAGIC = 0x31474553
TYPES = ["?", "RUN_START", "PROC_START", "FORK", "EXEC", "EXIT", "MODULES",
         "STACK", "MAP_EVENT", "TRANSITION", "TRANSITION_AGG", "LOCK_WAIT",
         "LOCKSTAT", "ORACLE", "RACE", "VIOLATION", "NOTE", "RUN_END"]
EXIT_EXEC = 3


def _string(payload, off):
    (n,) = struct.unpack_from("<I", payload, off)
    return payload[off + 4:off + 4 + n].decode(errors="replace"), off + ((4 + n + 7) & ~7)


class Log:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        v = HDR.unpack_from(data, 0)
        if v[0] != b"RMAPLOG\0" or v[1] != 1:
            raise ValueError("%s: not an rmapshim v1 log" % path)
        hsize, seg_size, nseg, next_seg = v[2], v[3], v[4], v[5]
        self.flags = v[9]
        self.records = []          # (type name, seq, payload, writer tid)
        self.corrupt = 0
        for s in range(min(next_seg, nseg)):
            self._segment(data, hsize + s * seg_size, seg_size)
        self.records.sort(key=lambda r: r[1])

    def _segment(self, data, base, seg_size):
        if SEG.unpack_from(data, base)[0] != SEG_MAGIC:
            return
        off = SEG.size
        while off + REC.size <= seg_size:
            at = base + off
            ln, typ, _fl, crc, tid, seq, _ts = REC.unpack_from(data, at)
            if ln == 0:
                return
            if ln < REC.size or ln % 8 or ln > seg_size - off or typ >= len(TYPES):
                self.corrupt += 1
                return
            if zlib.crc32(data[at + 4:at + 8] + data[at + 12:at + ln]) != crc:
                self.corrupt += 1
                return
            self.records.append((TYPES[typ], seq, data[at + REC.size:at + ln], tid))
            off += ln

    def of(self, name):
        return [r[2] for r in self.records if r[0] == name]

    def counts(self):
        return collections.Counter(r[0] for r in self.records)

    def proc_starts(self):
        return [struct.unpack_from("<ii", p)[0] for p in self.of("PROC_START")]

    def exits(self):
        """(pid, status, how) of every EXIT record."""
        return [struct.unpack_from("<iiII", p)[::1] for p in self.of("EXIT")]

    def unfinished(self):
        """pids with a PROC_START but no final (non-exec) EXIT."""
        done = collections.Counter(pid for pid, _st, _mm, how in self.exits()
                                   if how != EXIT_EXEC)
        return [pid for pid in self.proc_starts() if not done[pid]]

    def oracles(self):
        out = []
        for p in self.of("ORACLE"):
            pid, expl, comp, agr, mis, notc, nmis = struct.unpack_from("<iIQQQQI", p)
            label, off = _string(p, 48)
            bad = [struct.unpack_from("<Qii", p, off + 16 * i) for i in range(nmis)]
            out.append(dict(pid=pid, explicit=expl, label=label, compared=comp,
                            agreed=agr, mismatched=mis, not_compared=notc, first=bad))
        return out

    def map_events(self):
        """Every MAP_EVENT as a dict, with the tid of the thread that wrote it."""
        out = []
        for r in self.records:
            if r[0] == "MAP_EVENT":
                pid, _mm, op, _cause, _s, _e, _pf, _st, pages = struct.unpack_from(
                    "<iIIIQQIIQ", r[2])
                out.append(dict(pid=pid, op=op, pages=pages, tid=r[3]))
        return out

    def notes(self):
        return [_string(p, 8)[0] for p in self.of("NOTE")]

    def modules(self):
        """(pid, generation, [path, ...]) of every MODULES record, in log order."""
        out = []
        for p in self.of("MODULES"):
            pid, gen, count = struct.unpack_from("<iII", p)
            off, paths = 16, []
            for _ in range(count):
                path, off = _string(p, off + 24)
                paths.append(path)
                _build_id, off = _string(p, off)
            out.append((pid, gen, paths))
        return out


if __name__ == "__main__":
    import sys
    log = Log(sys.argv[1])
    print(dict(log.counts()), "corrupt", log.corrupt, "unfinished", log.unfinished())
    for o in log.oracles():
        print(o)
    for n in log.notes():
        print("note:", n)
