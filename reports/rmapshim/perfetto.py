"""`export --format perfetto`: a protobuf trace for ui.perfetto.dev.

Field numbers are those of protos/perfetto/trace (Trace.packet = 1;
TracePacket: timestamp 8, trusted_packet_sequence_id 10, track_event 11,
sequence_flags 13, track_descriptor 60; TrackDescriptor: uuid 1, name 2,
process 3, parent_uuid 5, counter 8; ProcessDescriptor: pid 1,
process_name 6; TrackEvent: debug_annotations 4, type 9, track_uuid 11,
name 23, counter_value 30; DebugAnnotation: name 10, int_value 4,
string_value 6).
"""

import os

from . import abi
from . import protobuf as pb

SEQ = 1
SLICE_BEGIN, SLICE_END, INSTANT, COUNTER = 1, 2, 3, 4
NR_MAPPED_TRACK = 1
TRANSITIONS_TRACK = 2


def process_uuid(pid):
    return 1 << 32 | pid


def waits_uuid(tid):
    return 2 << 32 | tid


def packet(ts, body, first=False):
    p = pb.uint(8, max(ts, 0)) + pb.uint(10, SEQ) + body
    if first:
        p += pb.uint(13, 1)     # SEQ_INCREMENTAL_STATE_CLEARED
    return pb.message(1, p)


def track(uuid, name, parent=None, pid=None, counter=False):
    d = pb.uint(1, uuid) + pb.blob(2, name)
    if pid is not None:
        d += pb.message(3, pb.uint(1, pid) + pb.blob(6, name))
    if parent:
        d += pb.uint(5, parent)
    if counter:
        d += pb.message(8, b"")
    return pb.message(60, d)


def event(kind, uuid, name=None, value=None, notes=()):
    e = pb.uint(9, kind) + pb.uint(11, uuid)
    if name is not None:
        e += pb.blob(23, name)
    if value is not None:
        e += pb.uint(30, value)
    for k, v in notes:
        e += pb.message(4, pb.blob(10, k) + (pb.uint(4, v) if isinstance(v, int)
                                             else pb.blob(6, str(v))))
    return pb.message(11, e)


def build(run):
    """The trace as bytes, and the number of events in it."""
    out = [packet(0, track(NR_MAPPED_TRACK, "nr_mapped", counter=True), first=True),
           packet(0, track(TRANSITIONS_TRACK, "mapcount transitions (cumulative)", counter=True))]
    n = 0
    for p in sorted(run.processes.values(), key=lambda p: p.start_ns):
        name = "%s %d" % (os.path.basename(p.exe), p.pid)
        out.append(packet(p.start_ns, track(process_uuid(p.pid), name, pid=p.pid)))
        out.append(packet(p.start_ns, event(SLICE_BEGIN, process_uuid(p.pid), name)))
        out.append(packet(p.end_ns if p.end_ns is not None else run.last_ts,
                          event(SLICE_END, process_uuid(p.pid))))
        n += 2
    for ts, pid, kind, detail in run.lifecycle:
        if pid in run.processes:
            out.append(packet(ts, event(INSTANT, process_uuid(pid), kind, notes=[("detail", detail)])))
            n += 1
    for ts, v in run.nr_mapped_series:
        out.append(packet(ts, event(COUNTER, NR_MAPPED_TRACK, value=v)))
        n += 1
    total = 0
    for ts, k in run.rate_points:
        total += k
        out.append(packet(ts, event(COUNTER, TRANSITIONS_TRACK, value=total)))
        n += 1
    tids = set()
    for ts, tid, w in run.lock_waits:
        if tid not in tids:
            tids.add(tid)
            out.append(packet(0, track(waits_uuid(tid), "lock waits tid %d" % tid, parent=process_uuid(w.pid)
                                       if w.pid in run.processes else None)))
        name = abi.lock_class_name(w.lock_class)
        out.append(packet(ts - w.wait_ns, event(SLICE_BEGIN, waits_uuid(tid), name, notes=[
            ("site", abi.lock_site_name(w.site)), ("wait_ns", w.wait_ns)])))
        out.append(packet(ts, event(SLICE_END, waits_uuid(tid))))
        n += 2
    return b"".join(out), n
