#!/usr/bin/python3
"""Reader throughput on a synthetic log (not a test: it prints a number).

usage: readspeed.py [NRECORDS]   (default 2,000,000 TRANSITION records)
Prints records/s of logread.Log.records() (framing + CRC of every record)
and of model.load (the whole decode), best of three.
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(os.path.dirname(os.path.dirname(HERE)), "reports"), HERE]

import synth  # noqa: E402
from rmapshim import model  # noqa: E402
from rmapshim.logread import Log  # noqa: E402


def best(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory() as d:
        synth.bulk_log(d, n)
        path = os.path.join(d, "events.rlog")
        got = len(Log(path).records())
        assert got == n, got
        t_read = best(lambda: Log(path).records())
        t_model = best(lambda: model.load(d), 1)
    print("records %d  size %.0f MB" % (n, n * 72 / 1e6))
    print("reader  %.2f s  %.2f M records/s" % (t_read, n / t_read / 1e6))
    print("model   %.2f s  %.2f M records/s" % (t_model, n / t_model / 1e6))


if __name__ == "__main__":
    main()
