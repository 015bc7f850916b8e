# SPDX-License-Identifier: MIT
"""What every fault case shares: where the build is, running a command
natively and under `rmapshim run`, reading `rmapshim report --json`, and
the three assertions of the fault matrix (issue 6):

  (a) the workload's stdout and exit status equal the native run's;
  (b) every committed record is readable: the report works and counts
      0 corrupt records (or the damage is counted and stated);
  (c) what was lost is stated in the report.

Cases call check() and finish with done(): exit 1 if any check failed,
77 (ctest's skip) through skip().
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import sanruntime  # noqa: E402

SKIP = 77
BUILD = os.path.abspath(os.environ.get("RMAPSHIM_BUILD", "build"))
PROGS = os.environ.get("RMAPSHIM_FAULT_PROGS", os.path.join(BUILD, "tests", "faults", "progs"))
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(BUILD, "bin", "rmapshim")
RUN = os.path.join(BUILD, "bin", "rmapshim-run")
LIB = os.path.join(BUILD, "lib", "librmapshim.so")
PRELOAD = sanruntime.preload(LIB)     # LD_PRELOAD for a by-hand traced run
EX = os.path.join(BUILD, "examples")
TIMEOUT = 60
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def skip(why):
    print("skip:", why)
    sys.exit(SKIP)


def done(summary):
    print(("FAILED: %d check(s); " % len(failures) if failures else "ok: ") + summary)
    sys.exit(1 if failures else 0)


def case_main(cases):
    """Run the case argv[1] names: case_<name> among @cases (a driver's globals())."""
    require_tracing()
    case = sys.argv[1]
    cases["case_" + case.replace("-", "_")]()
    done(case)


def require_tracing():
    """Every fault case needs the shim, root and the kernel oracle."""
    if os.environ.get("RMAPSHIM_TEST_SKIP"):
        skip("sanitized build: %s" % os.environ["RMAPSHIM_TEST_SKIP"])
    for f in (CLI, RUN, LIB):
        if not os.path.exists(f):
            skip("%s is not built" % f)
    if os.geteuid() != 0 or not os.access("/proc/kpagecount", os.R_OK):
        skip("needs root and /proc/kpagecount")


def prog(name):
    path = os.path.join(PROGS, name)
    if not os.path.exists(path):
        skip("%s is not built" % path)
    return path


def example(name):
    path = os.path.join(EX, name)
    if not os.path.exists(path):
        skip("%s is not built" % path)
    return path


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "rc %d, stderr %r" % (self.rc, self.err[-400:])


def session(pid):
    """ps lines of a stuck command's session, for the failure message."""
    return subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:20,args", "-s", str(pid)],
                          stdout=subprocess.PIPE, text=True).stdout


def run(cmd, env=None, cwd=None, timeout=TIMEOUT):
    """Run @cmd in its own session; a hang is a failed check, and the whole
    session (the traced tree) is killed so nothing outlives the case."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        check(False, "%s: hung for %d s:\n%s" % (" ".join(cmd), timeout, session(p.pid)))
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    return Result(p.returncode, out, err)


def traced_cmd(outdir, cmd, opts=()):
    # Sanitized: the supervisor itself, not Python with the runtime preloaded.
    runner = [RUN] if sanruntime.RUNTIME else [CLI, "run"]
    return sanruntime.traced(runner + ["-q", "-o", outdir] + list(opts) + ["--"] + list(cmd))


def scratch():
    """A fresh directory, removed by the caller with shutil.rmtree."""
    return tempfile.mkdtemp(prefix="rmapshim-faults.")


def report(outdir):
    """`rmapshim report --json DIR`, or None (and a failed check)."""
    r = run([CLI, "report", "--json", outdir])
    if not check(r.rc == 0, "report --json %s: %r" % (outdir, r)):
        return None
    check("Traceback" not in r.err, "report --json %s printed a traceback" % outdir)
    return json.loads(r.out)


def check_readable(name, rep, corrupt_ok=False):
    """(b): the log read back; damage, if allowed, is at least counted."""
    integ = rep["integrity"]
    check(integ["records"] > 0, "%s: no records read" % name)
    if not corrupt_ok:
        check(integ["corrupt"] == 0 and integ["torn_segments"] == 0,
              "%s: %d corrupt records, %d torn segments" % (name, integ["corrupt"],
                                                             integ["torn_segments"]))


def same_as_native(name, cmd, opts=(), env=None, cwd=None):
    """Run @cmd natively and traced; assert (a) and (b).  Returns the report
    (None if unreadable) and the traced run's Result."""
    native = run(cmd, env=env, cwd=cwd)
    top = scratch()
    outdir = os.path.join(top, "run")
    traced = run(traced_cmd(outdir, cmd, opts), env=env, cwd=cwd)
    check(traced.rc == native.rc, "%s: exit status %d natively, %d traced (%r)"
          % (name, native.rc, traced.rc, traced))
    check(traced.out == native.out, "%s: stdout differs\n--- native\n%s--- traced\n%s"
          % (name, native.out, traced.out))
    rep = report(outdir) if os.path.exists(os.path.join(outdir, "events.rlog")) else None
    check(rep is not None, "%s: no readable run directory" % name)
    if rep:
        check_readable(name, rep)
    shutil.rmtree(top)
    return rep, traced


def check_clean(name, rep, oracle=True):
    """Every process exited (or was reaped), the shadow is empty and
    consistent, and (@oracle) the kernel agreed at every checkpoint."""
    if not rep:
        return
    check(rep["integrity"]["unfinished_processes"] == 0,
          "%s: unfinished processes %s" % (name, rep["integrity"]["unfinished_pids"]))
    final = rep["nr_mapped"]["final"]
    check(final == 0, "%s: nr_mapped.final %d" % (name, final))
    check(rep["violations"] == 0, "%s: %d violations: %s" % (name, rep["violations"],
                                                           rep["violation_details"][:3]))
    if oracle:
        check(rep["oracle"]["mismatched"] == 0, "%s: oracle %s" % (name, rep["oracle"]))


def in_mount_namespace():
    """Re-run this case in a private mount namespace: a tmpfs mounted there
    disappears with the namespace even if the case is killed."""
    if os.environ.get("RMAPSHIM_FAULTS_NS"):
        return
    if not shutil.which("unshare"):
        skip("unshare(1) not installed")
    env = dict(os.environ, RMAPSHIM_FAULTS_NS="1")
    sys.exit(subprocess.run(["unshare", "--mount", "--propagation", "private",
                             sys.executable] + sys.argv, env=env).returncode)


def notes(rep):
    """The texts of the report's notes (supervisor and shim NOTE records)."""
    return [n["text"] for n in rep.get("notes", [])]
