# SPDX-License-Identifier: MIT
"""Resource faults (issue 6 items 2-4).

usage: resources.py CASE
  logfull      RMAPSHIM_LOG_MB=1: the log fills up mid-run
  fsfull       the run directory on an 8 MiB tmpfs, too small for a
               16 MiB log (whose blocks are reserved at creation, so a
               full filesystem can never SIGBUS a traced process; the
               arena is a memfd, not on the filesystem): the run is
               refused at the start, said once, and the program runs
               untraced; in a private mount namespace, unmounted after
  arena        --arena-pages 500: pages past it are counted, not tracked
  fd-close-all, fd-dup2, fd-rlimit
               progs/fdclobber: the file it writes through a recycled low
               fd holds exactly its own lines, natively and traced
Each: same stdout and exit status as natively, no SIGBUS, the log
readable, and what was lost said once by the shim and in the report.
"""
import os
import shutil
import sys

from faultlib import (CLI, check, check_clean, check_readable, done, example, in_mount_namespace,
                      notes, prog, report, require_tracing, run, same_as_native, scratch, skip,
                      traced_cmd)

FORKSTORM = ["-n", "300", "-m", "8"]


def said_once(name, err, words):
    lines = [l for l in err.splitlines() if l.startswith("rmapshim") and words in l]
    check(len(lines) == 1, "%s: the shim said %r %d times: %r" % (name, words, len(lines), err))


def log_lost(name, rep, text):
    """(c): the report states from when records were dropped."""
    integ = rep["integrity"]
    check(integ["log_full"] and integ["log_full_at_ns"] > 0 and integ["dropped"] > 0,
          "%s: integrity %s" % (name, integ))
    check("LOG FULL from" in text, "%s: the text report does not say when the log filled" % name)


def traced_full(name, outdir, env):
    """forkstorm traced into @outdir: asserts (a), then the loss statements."""
    cmd = [example("forkstorm")] + FORKSTORM
    native = run(cmd)
    res = run(traced_cmd(outdir, cmd), env=env)
    check(res.rc == native.rc and res.out == native.out,
          "%s: traced rc %d out %r, natively rc %d out %r (%r)"
          % (name, res.rc, res.out, native.rc, native.out, res))
    check(res.rc not in (-7, 128 + 7), "%s: SIGBUS killed the run (rc %d)" % (name, res.rc))
    said_once(name, res.err, "full")
    rep = report(outdir)
    if rep:
        check_readable(name, rep)
        log_lost(name, rep, run([CLI, "report", outdir]).out)


def case_logfull():
    top = scratch()
    try:
        traced_full("logfull", os.path.join(top, "run"), dict(os.environ, RMAPSHIM_LOG_MB="1"))
    finally:
        shutil.rmtree(top)


def case_fsfull():
    in_mount_namespace()
    top = scratch()
    mnt = os.path.join(top, "small")
    os.mkdir(mnt)
    try:
        r = run(["mount", "-t", "tmpfs", "-o", "size=8m", "rmapshim-faults", mnt])
        if r.rc:
            skip("cannot mount a tmpfs: %s" % r.err.strip())
        try:
            cmd = [example("forkstorm")] + FORKSTORM
            native = run(cmd)
            outdir = os.path.join(mnt, "run")
            res = run(traced_cmd(outdir, cmd), env=dict(os.environ, RMAPSHIM_LOG_MB="16"))
            check(res.rc == native.rc and res.out == native.out,
                  "fsfull: traced rc %d out %r, natively rc %d out %r"
                  % (res.rc, res.out, native.rc, native.out))
            said_once("fsfull", res.err, "No space left on device")
            # No log could be reserved, so there is no report: the line
            # above is what says why; nothing half-made is left behind.
            check(os.listdir(outdir) == [], "fsfull: left %s" % os.listdir(outdir))
        finally:
            run(["umount", mnt])
    finally:
        shutil.rmtree(top)


def case_arena():
    """A 500-page arena under forkstorm's 2,000+ pages: the workload is
    unchanged, the shadow stays consistent (untracked pages are simply
    absent, the oracle agrees on the tracked ones) and the report says so."""
    top = scratch()
    try:
        cmd = [example("forkstorm")] + FORKSTORM
        native = run(cmd)
        outdir = os.path.join(top, "run")
        res = run(traced_cmd(outdir, cmd, ["--arena-pages", "500"]))
        check(res.rc == native.rc and res.out == native.out,
              "arena: traced rc %d out %r, natively rc %d out %r (%r)"
              % (res.rc, res.out, native.rc, native.out, res))
        rep = report(outdir)
        if rep:
            check_readable("arena", rep)
            check_clean("arena", rep)
            check(rep["run"]["enospc"] > 0, "arena: no refused operation counted")
            text = run([CLI, "report", outdir]).out
            check("ARENA FULL" in text, "arena: the text report does not say the arena was full")
    finally:
        shutil.rmtree(top)


def degraded_clearly(name, rep):
    """Either the oracle still compared pages, or a note says why not."""
    check(rep["oracle"]["compared"] > 0 or any("oracle" in n or "file descriptor" in n
                                                for n in notes(rep)),
          "%s: the oracle compared nothing at %d checkpoints and no note says why"
          % (name, rep["oracle"]["checkpoints"]))


def fd_case(mode):
    top = scratch()
    try:
        path = os.path.join(top, "workload.txt")
        want = "".join("workload line %d\n" % i for i in range(50))
        for how in ("native", "traced"):
            cmd = [prog("fdclobber"), mode, path]
            if how == "traced":
                rep, _ = same_as_native("fd " + mode, cmd)
                check_clean("fd " + mode, rep)
                if rep:
                    degraded_clearly("fd " + mode, rep)
            else:
                check(run(cmd).rc == 0, "fd %s: native run failed" % mode)
            with open(path) as f:
                got = f.read()
            check(got == want, "fd %s (%s): the workload's file holds %d bytes not its own: %r"
                  % (mode, how, len(got), got[:200]))
    finally:
        shutil.rmtree(top)


def main():
    require_tracing()
    case = sys.argv[1]
    if case.startswith("fd-"):
        fd_case(case[3:])
    else:
        globals()["case_" + case]()
    done(case)


if __name__ == "__main__":
    main()
