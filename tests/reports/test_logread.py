"""The reader on synthetic logs: exact read-back, and damage counted."""

import os
import random
import shutil

import logwriter as lw
import synth
from rmapshim import abi, model, records
from rmapshim.logread import Log


def read(path):
    log = Log(path)
    return log, log.records()


def test_round_trip_every_record_type(tmp_path):
    path = synth.make_run(str(tmp_path / "r"), "locked", forks=2, pages=3, violations=1)
    log, recs = read(path)
    assert log.error is None
    assert [r[0] for r in recs] == list(range(1, len(recs) + 1))      # seq order
    types = {abi.RLOG_TYPES[r[1]] for r in recs}
    assert {"RUN_START", "PROC_START", "FORK", "EXIT", "MODULES", "STACK", "TRANSITION",
            "TRANSITION_AGG", "LOCK_WAIT", "LOCKSTAT", "ORACLE", "VIOLATION",
            "RUN_END"} <= types
    assert all(records.decode(log.buf, r) is not None for r in recs)
    start = records.decode(log.buf, recs[0])
    assert start.argv == [synth.EXE, "-n", "2"] and start.cwd == "/tmp"
    end = records.decode(log.buf, recs[-1])
    assert end.events[lw.EV_DUP][lw.CAUSE_FORK] == 6
    assert end.processes == 3
    assert log.integrity.corrupt == 0 and log.integrity.torn_segments == 0


def test_records_span_many_segments(tmp_path):
    # Tiny segments: every thread's stream continues in freshly claimed ones.
    path = synth.make_run(str(tmp_path / "r"), "lockless", forks=5, pages=40, seg_size=512,
                          nseg=400)
    log, recs = read(path)
    assert log.integrity.segments > 20
    run = model.load(os.path.dirname(path))
    exp = synth.expected("lockless", 5, 40)
    t = run.transitions()
    assert all(t[k] == exp[k] for k in ("map_first", "dup", "remove", "unmap_last"))


def test_log_full_flag(tmp_path):
    path = synth.make_run(str(tmp_path / "r"), "lockless", forks=5, pages=40, seg_size=512,
                          nseg=6)
    log, recs = read(path)
    assert log.integrity.log_full
    assert 0 < len(recs) < 100
    assert log.integrity.dropped > 0
    # A dropped record never took a sequence number: no gap to blame on it.
    assert log.integrity.seq_gaps == 0


def test_segment_magic_zero_is_no_loss_other_is_damage(tmp_path):
    path = synth.make_run(str(tmp_path / "r"), "lockless", forks=4, pages=20, seg_size=1024)
    _, good = read(path)
    full = bytearray(open(path, "rb").read())
    for magic, torn in ((b"\0\0\0\0", 0), (b"SEG2", 1)):
        p = tmp_path / ("m" + str(torn))
        p.write_bytes(full[:4096 + 1024] + magic + full[4096 + 1024 + 4:])
        log, recs = read(str(p))
        assert log.integrity.torn_segments == torn
        assert 0 < len(recs) < len(good)
        # Either way the lost records show as sequence numbers without one.
        assert log.integrity.seq_gaps == len(good) - len(recs)


def test_truncated_copies_count_damage(tmp_path):
    path = synth.make_run(str(tmp_path / "r"), "lockless", forks=4, pages=20, seg_size=1024,
                          nseg=64)
    full = open(path, "rb").read()
    _, all_recs = read(path)
    last_used = 4096 + 1024 * Log(path).header["next_seg"]
    for cut in sorted({4096, 4096 + 40, 5000, 6000, last_used - 3, last_used // 2 + 7}):
        p = tmp_path / ("cut%d" % cut)
        p.write_bytes(full[:cut])
        log, recs = read(str(p))
        assert log.error is None
        assert log.integrity.truncated
        # Cutting the zero tail of the last segment loses nothing.
        assert len(recs) < len(all_recs) if cut <= 6000 else len(recs) <= len(all_recs)
        # What survives is exactly a prefix of each segment: a subset.
        assert {r[0] for r in recs} <= {r[0] for r in all_recs}


def test_bit_flips_stop_the_segment_and_are_counted(tmp_path):
    path = synth.make_run(str(tmp_path / "r"), "lockless", forks=4, pages=20)
    full = bytearray(open(path, "rb").read())
    log, good = read(path)
    rnd = random.Random(3)
    for _ in range(40):
        rec = rnd.choice(good)
        pos = rec[5] + rnd.randrange(rec[6])
        if 8 <= pos - rec[5] < 12:
            continue                       # the CRC field itself: still a mismatch, fine
        damaged = bytearray(full)
        damaged[pos] ^= 1 << rnd.randrange(8)
        p = tmp_path / "flip"
        p.write_bytes(damaged)
        log2, recs = read(str(p))
        assert log2.integrity.corrupt >= 1, pos
        assert rec[0] not in {r[0] for r in recs}


def test_not_a_log(tmp_path):
    for name, data in (("empty", b""), ("short", b"RMAPLOG\0"), ("garbage", os.urandom(9000)),
                       ("version", b"RMAPLOG\0" + b"\x09" + b"\0" * 5000)):
        p = tmp_path / name
        p.write_bytes(data)
        log, recs = read(str(p))
        assert log.error and recs == []


def test_killed_run_has_unfinished_processes(tmp_path):
    d = str(tmp_path / "k")
    synth.make_run(d, "lockless", forks=3, killed=True)
    run = model.load(d)
    assert not run.complete
    assert run.unfinished() == [1000, 1003]


def test_run_error_messages(tmp_path):
    for d, msg in ((tmp_path / "nope", "no such directory"),
                   (tmp_path, "not an rmapshim run directory")):
        try:
            model.load(str(d))
        except model.RunError as e:
            assert msg in str(e)
        else:
            raise AssertionError("no RunError for %s" % d)
    shutil.rmtree(tmp_path)
