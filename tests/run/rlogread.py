# SPDX-License-Identifier: MIT
"""rlogread - a minimal, independent reader of the rmapshim log (v1) for the
supervisor's tests: it re-implements docs/log-format.md from the prose, so a
writer bug and a reader bug would have to agree to go unnoticed."""
import struct
import zlib

HDR = struct.Struct("<8sIIIIQQQQII Q40sQ")   # rlog_file_header
SEG = struct.Struct("<IIIIQQ")              # rlog_seg_header
REC = struct.Struct("<IHHIIQQ")             # rlog_rec
SEG_MAGIC = 0x31474553

TYPES = ["?", "RUN_START", "PROC_START", "FORK", "EXEC", "EXIT", "MODULES",
         "STACK", "MAP_EVENT", "TRANSITION", "TRANSITION_AGG", "LOCK_WAIT",
         "LOCKSTAT", "ORACLE", "RACE", "VIOLATION", "NOTE", "RUN_END"]


class Log:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        (magic, self.version, self.header_size, self.seg_size, self.nseg,
         self.next_seg, self.seq, self.t0_real, self.t0_mono, self.flags, _pad,
         self.full_at_ns, self.boot_id, self.dropped) = HDR.unpack_from(self.data, 0)
        if magic != b"RMAPLOG\0" or self.version != 1:
            raise ValueError("not an rmapshim v1 log")
        self.records = []      # (type, tid, seq, ts, payload, seg pid)
        self.corrupt = 0
        self.segments = 0
        for s in range(min(self.next_seg, self.nseg)):
            self._segment(self.header_size + s * self.seg_size)

    def _segment(self, base):
        magic, pid, tid, _pad, _claim, _start = SEG.unpack_from(self.data, base)
        if magic != SEG_MAGIC:
            return
        self.segments += 1
        off = SEG.size
        while off + REC.size <= self.seg_size:
            at = base + off
            ln, typ, _flags, crc, rtid, seq, ts = REC.unpack_from(self.data, at)
            if ln == 0:
                return
            if ln < REC.size or ln % 8 or ln > self.seg_size - off:
                self.corrupt += 1
                return
            body = self.data[at + 4:at + 8] + self.data[at + 12:at + ln]
            if zlib.crc32(body) & 0xffffffff != crc:
                self.corrupt += 1
                return
            self.records.append((typ, rtid, seq, ts, self.data[at + REC.size:at + ln], pid))
            off += ln

    def of_type(self, name):
        t = TYPES.index(name)
        return [r for r in self.records if r[0] == t]


def string_at(payload, off):
    """A length-prefixed string at @off: (bytes, offset after its padding)."""
    (n,) = struct.unpack_from("<I", payload, off)
    return payload[off + 4:off + 4 + n], off + ((4 + n + 7) & ~7)


def note_text(payload):
    pid, level = struct.unpack_from("<iI", payload, 0)
    return pid, level, string_at(payload, 8)[0].decode()


RUN_END = struct.Struct("<iIQqq256Q16QQQQII")


def run_end(payload):
    v = RUN_END.unpack_from(payload, 0)
    return {"exit_status": v[0], "processes": v[1], "duration_ns": v[2],
            "nr_mapped_final": v[3], "nr_mapped_peak": v[4],
            "violations": v[5 + 256 + 16], "enospc": v[5 + 256 + 17],
            "reaped": v[5 + 256 + 18], "log_flags": v[5 + 256 + 19]}


EXIT = struct.Struct("<iiIIQQ")


def exit_rec(payload):
    pid, status, mm, how, pages, ns = EXIT.unpack_from(payload, 0)
    return {"pid": pid, "status": status, "mm": mm, "how": how, "pages": pages}
