# SPDX-License-Identifier: MIT
"""SIGKILL of a traced process at seeded random moments.

usage: kill.py WORKLOAD KILLS SEED

One untouched traced run first (same output as native; the workload's
duration D in its report bounds the fault moments), then runs that each
SIGKILL the workload or one of its children a seeded random delay in
[0, 0.9 D] after the workload started (the delay is the fault injection,
not synchronization), until KILLS kills hit a live process.  With
RMAPSHIM_FAULTS_KEEP=1 the run directory of a failing run is kept.  Every run:

  (a) the workload behaves as it does natively when that process dies:
      killed root -> 137; killed child -> the example's own complaint
      and exit 1, or SIGPIPE (141); a kill that came too late -> the
      native result;
  (b) `rmapshim report --json` reads the run, 0 corrupt records;
  (c) the supervisor reaped every dead mm: the victim is reaped (or had
      run its exit path), a note says so, no unfinished process,
      nr_mapped.final == 0, zero violations.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from faultlib import (Result, check, failures, check_clean, check_readable, done, example, notes, report,
                      require_tracing, run, scratch, session, traced_cmd)

# A run still alive this long after the kill is a hang (a lock left held).
HANG_S = 30
WORKLOADS = {
    "forkstorm": ["-n", "150", "-m", "4"],
    "cowstorm": ["-n", "20", "-m", "4", "-f", "0.3"],
    "threadchurn": ["-t", "3", "-n", "200"],
}


def children(pid):
    """Direct children of every thread of @pid (threadchurn forks from threads)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def tree(pid):
    """ps lines of the stuck run's session and the supervisor's stacks, for
    the failure message."""
    ps = session(pid)
    if not shutil.which("gdb"):
        return ps
    bt = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                        timeout=60).stdout
    return ps + "\n".join(l for l in bt.splitlines() if l.startswith(("#", "Thread")))


def kill_one(rng, supervisor):
    """SIGKILL the workload root or one of its children; returns the role
    and the pid (None, 0 if there was nobody to kill)."""
    roots = children(supervisor)
    if not roots:
        return None, 0
    root = roots[0]
    kids = children(root)
    victim, role = (rng.choice(kids), "child") if kids and rng.random() < 0.5 else (root, "root")
    try:
        os.kill(victim, signal.SIGKILL)
    except ProcessLookupError:
        return None, 0
    return role, victim


def outcome(name, res, native_rc, role):
    """(a): which fault actually happened, judged by the workload's behaviour."""
    if res.rc == 128 + signal.SIGKILL:
        check(role == "root", "%s: exit 137 but the victim was a %s" % (name, role))
        return "root"
    if role == "child" and (res.rc == 1 and res.err or res.rc == 128 + signal.SIGPIPE):
        # The example's own reaction to a dead child ("killed by signal 9",
        # "pipe closed by the other side"), or SIGPIPE if it wrote to the
        # dead child's pipe first (slow ASan builds), exactly as natively.
        return "child"
    check(res.rc == native_rc, "%s: exit %d, natively %d (%r)" % (name, res.rc, native_rc, res))
    return None


def check_reaped(name, rep, victim):
    """(c): the dead mms were reaped and the report says so.  The oracle is
    not asked: a checkpoint racing the kill sees the dead process's pages.
    A victim killed inside an rmapcore operation leaves it half done (no
    user-space code survives SIGKILL to finish it): then, and only then,
    the checker may count its remains, and the report must say so."""
    # A victim killed between its first record and its shadow mm has
    # nothing to reap and never writes EXIT: the report must list it as
    # unfinished (that is the statement of the loss); nobody else may be.
    unfinished = rep["integrity"]["unfinished_pids"]
    lost_start = victim is not None and unfinished == [victim]
    if lost_start:
        rep = dict(rep, integrity=dict(rep["integrity"], unfinished_processes=0))
    if not rep["run"].get("locks_broken"):
        check_clean(name, rep, oracle=False)
    check(rep["run"]["complete"], "%s: the run has no end record" % name)
    if not victim or lost_start:
        return
    procs = [p for p in rep["processes"] if p["pid"] == victim]
    if not procs:
        # Killed before its first record (in ld.so or the shim's
        # constructor): it never had a shadow mm.
        return
    # A victim that already ran its exit path had nothing left to reap.
    check(procs[0]["exit_how"] in ("reaped", "exit", "_exit"),
          "%s: killed pid %d ended as %r" % (name, victim, procs[0]["exit_how"]))
    if procs[0]["exit_how"] == "reaped":
        check(any("pid %d" % victim in n and "reaped" in n for n in notes(rep)),
              "%s: no note says pid %d was reaped: %s" % (name, victim, rep["notes"]))


def workload_started(p):
    """Wait for the supervisor's first child: the fault moments are drawn
    over the workload's own lifetime, not the supervisor's set-up."""
    while p.poll() is None:
        if children(p.pid):
            return True
        time.sleep(0.001)
    return False


def kill_run(name, cmd, native_rc, outdir, rng, span):
    """One traced run with one SIGKILL at a random moment; returns whom it
    killed and, for a miss, how many seconds after its start the workload
    was already gone (a tighter bound on the span than the base run's)."""
    p = subprocess.Popen(traced_cmd(outdir, cmd), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    role, victim, gone_by = None, 0, None
    delay = rng.uniform(0.0, 0.9) * span
    if workload_started(p):
        t0 = time.monotonic()
        try:
            p.wait(timeout=delay)
            gone_by = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            role, victim = kill_one(rng, p.pid)
            if not role:
                gone_by = delay
    try:
        out, err = p.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        check(False, "%s: hung %d s after SIGKILL of the %s:\n%s"
              % (name, HANG_S, role, tree(p.pid)))
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, None
    failed_before = len(failures)
    killed = outcome(name, Result(p.returncode, out, err), native_rc, role)
    rep = report(outdir)
    if rep:
        check_readable(name, rep)
        check_reaped(name, rep, victim if killed else 0)
    if len(failures) > failed_before and os.environ.get("RMAPSHIM_FAULTS_KEEP"):
        kept = tempfile.mkdtemp(prefix="rmapshim-faults-kept.")
        shutil.move(outdir, kept)
        print("%s: run directory kept in %s" % (name, kept))
    shutil.rmtree(outdir, ignore_errors=True)
    return killed, (gone_by if not killed else None)


def main():
    require_tracing()
    work, kills, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cmd = [example(work)] + WORKLOADS[work]
    native = run(cmd)
    check(native.rc == 0, "%s natively: %r" % (work, native))
    top = scratch()
    try:
        base = run(traced_cmd(os.path.join(top, "base"), cmd))
        check(base.rc == native.rc and base.out == native.out,
              "%s: traced %r / %r, natively %r" % (work, base, base.out, native.out))
        rep = report(os.path.join(top, "base"))
        span = rep["run"]["duration_ns"] / 1e9 if rep else 1.0
        rng = random.Random(seed)
        effective = {"root": 0, "child": 0}
        # A moment after the workload ended injects nothing: draw another,
        # up to 3 tries per kill asked for, over the span such a miss showed
        # (the base run's duration includes the supervisor's own finish,
        # long under a sanitizer).
        for i in range(3 * kills):
            if effective["root"] + effective["child"] == kills:
                break
            killed, gone_by = kill_run("%s run #%d (seed %d)" % (work, i, seed), cmd,
                                       native.rc, os.path.join(top, "k%d" % i), rng, span)
            if killed:
                effective[killed] += 1
            elif gone_by is not None:
                span = min(span, gone_by)
        total = effective["root"] + effective["child"]
        check(total == kills, "%s: only %d of %d kills hit a live process" % (work, total, kills))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    done("%s: %d kills (%d of the root, %d of a child), every run readable, "
         "kill span %.2f s" % (work, kills, effective["root"], effective["child"], span))


if __name__ == "__main__":
    main()
