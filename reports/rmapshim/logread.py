"""Reader of the rmapshim binary log, version 1 (shim/logfmt.h).

The second implementation of the format: it trusts nothing.  A segment is
read until its first record whose length is zero (clean end, or a
reservation in flight when the writer died), impossible, or whose CRC does
not match (torn or stray write); the rest of that segment is skipped and
the damage counted.  Nothing in here raises on bad data: a file that is
not a log at all is reported through Log.error.

A record is a tuple (seq, type, ts_ns, tid, pid, off, len): @off is the
record's offset in Log.buf and @pid the pid of the segment's writer.  The
payload is Log.buf[off + 32 : off + len], decoded by rmapshim.records.
"""

import mmap
import os
import struct
import zlib

MAGIC = b"RMAPLOG\0"
VERSION = 1
HDR_SIZE = 4096
SEG_MAGIC = 0x31474553
SEG_HDR_SIZE = 32
REC_HDR_SIZE = 32

# struct rlog_file_header, up to dropped; pop_wake_seg and pop_state (the
# supervisor's populating ahead) say nothing about the records.
FILE_HDR = struct.Struct("<8sIIIIQQQQIIQ40sQ")
# struct rlog_seg_header
SEG_HDR = struct.Struct("<IIIIQQ")
# struct rlog_rec
REC_HDR = struct.Struct("<IHHIIQQ")

# Upper bounds that keep a corrupt header from sending us on a long walk.
MAX_SEG_SIZE = 1 << 30
MAX_NSEG = 1 << 24


class Integrity:
    """What the reader could and could not read."""

    def __init__(self):
        self.records = 0
        self.corrupt = 0            # records rejected by framing or CRC
        self.torn_segments = 0      # segments with a bad header or cut by EOF
        self.truncated = False      # file shorter than its header says
        self.segments = 0           # segments with a valid header
        self.log_full = False       # RLOG_F_FULL: the writers dropped records
        self.full_at_ns = 0         # ... from this time on (relative to t0)
        # From the header: records the writers could not place (log full, or
        # larger than a segment).  They never took a sequence number.
        self.dropped = 0
        # Sequence numbers taken with no valid record: writers killed between
        # reserve and commit, or records lost to damage.  Disjoint from dropped.
        self.seq_gaps = 0

    def as_dict(self):
        return dict(self.__dict__)


class Log:
    """One events.rlog, mapped read-only."""

    def __init__(self, path):
        self.path = path
        self.error = None
        self.header = {}
        self.integrity = Integrity()
        self.buf = b""
        self._records = None
        self._open()

    def _open(self):
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HDR_SIZE:
                    self.error = "too short to be an rmapshim log (%d bytes)" % size
                    return
                self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            self.error = e.strerror or str(e)
            return
        self._parse_header()

    def _parse_header(self):
        (magic, version, header_size, seg_size, nseg, next_seg, seq, t0_real,
         t0_mono, flags, _pad, full_at, boot_id, dropped) = FILE_HDR.unpack_from(self.buf, 0)
        if magic != MAGIC:
            self.error = "not an rmapshim log (bad magic)"
            return
        if version != VERSION:
            self.error = "log format version %d, this reader knows %d" % (version, VERSION)
            return
        if (header_size != HDR_SIZE or seg_size < SEG_HDR_SIZE + REC_HDR_SIZE
                or seg_size > MAX_SEG_SIZE or seg_size & 7 or nseg > MAX_NSEG):
            self.error = "corrupt log header (segment size %d, %d segments)" % (seg_size, nseg)
            return
        self.header = dict(version=version, seg_size=seg_size, nseg=nseg,
                           next_seg=next_seg, seq=seq, t0_realtime_ns=t0_real,
                           t0_monotonic_ns=t0_mono, flags=flags, full_at_ns=full_at,
                           boot_id=boot_id.rstrip(b"\0").decode("ascii", "replace"),
                           dropped=dropped)
        integ = self.integrity
        integ.log_full = bool(flags & 1)
        integ.dropped = dropped
        integ.full_at_ns = full_at - t0_mono if integ.log_full and full_at >= t0_mono else 0
        integ.truncated = len(self.buf) < HDR_SIZE + seg_size * nseg

    def records(self):
        """All committed records, in global sequence order (a list)."""
        if self._records is None:
            self._records = self._scan() if not self.error else []
            self.integrity.records = len(self._records)
            if self._records:
                # Reservations never committed and records lost to damage
                # leave holes in the global sequence (a drop takes no number).
                self.integrity.seq_gaps = max(self.header["seq"] - len(self._records), 0)
        return self._records

    def _scan(self):
        hdr = self.header
        seg_size = hdr["seg_size"]
        claimed = min(hdr["nseg"], hdr["next_seg"])
        size = len(self.buf)
        out = []
        for i in range(claimed):
            start = HDR_SIZE + i * seg_size
            if start + SEG_HDR_SIZE > size:
                self.integrity.torn_segments += claimed - i
                break
            end = min(start + seg_size, size)
            magic, pid = SEG_HDR.unpack_from(self.buf, start)[:2]
            if magic != SEG_MAGIC:
                # Zero: claimed, but the writer died before its header
                # store (no loss).  Anything else is a stray write over the
                # header: its records cannot be trusted, counted as damage
                # (docs/log-format.md "Reading").
                if magic:
                    self.integrity.torn_segments += 1
                continue
            self.integrity.segments += 1
            damaged = self._scan_segment(start + SEG_HDR_SIZE, end, pid, out)
            if damaged:
                self.integrity.corrupt += 1
            if end < start + seg_size:
                self.integrity.torn_segments += 1
        # Each segment is already in order: timsort merges the runs.
        out.sort()
        return out

    def _scan_segment(self, off, end, pid, out):
        """Append the segment's records to @out; True if it ended in damage."""
        buf = memoryview(self.buf)
        unpack = REC_HDR.unpack_from
        crc32 = zlib.crc32
        append = out.append
        # CRC state after bytes [4,8) (type, flags): few distinct values.
        head_crc = {}
        last = end - REC_HDR_SIZE
        while off <= last:
            ln, typ, flags, crc, tid, seq, ts = unpack(buf, off)
            if ln == 0:
                return False
            nxt = off + ln
            if ln < REC_HDR_SIZE or ln & 7 or nxt > end:
                return True
            key = typ | flags << 16
            head = head_crc.get(key)
            if head is None:
                head = head_crc[key] = crc32(struct.pack("<HH", typ, flags))
            if crc32(buf[off + 12:nxt], head) != crc:
                return True
            append((seq, typ, ts, tid, pid, off, ln))
            off = nxt
        return False

    def close(self):
        if isinstance(self.buf, mmap.mmap):
            try:
                self.buf.close()
            except BufferError:
                return      # a view is still alive: the mapping goes with it
        self.buf = b""
