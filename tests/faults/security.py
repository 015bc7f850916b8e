# SPDX-License-Identifier: MIT
"""Security checks (issue 6 item 9; docs/security.md is the prose).

usage: security.py CASE
  perms          run directory 0700; arena, log and mmsem 0600, ours; no
                 file in it writable by group or others after a report
  leftovers      nothing left in /tmp or /dev/shm by a run, a run whose
                 workload is SIGKILLed, or a report (fresh tmpfs on both,
                 in a private mount namespace)
  getenv         every getenv() in the shim and rmapcore is listed in
                 docs/security.md, and the preload reads only RMAPSHIM_*
  byhand-outdir  LD_PRELOAD by hand with RMAPSHIM_OUT a symlink, a
                 directory others can write, or one holding a planted
                 arena: refused, nothing written or attached there
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

from faultlib import (case_main, BUILD, CLI, PRELOAD, SRC, check, example, in_mount_namespace,
                      run, scratch, traced_cmd)
from kill import children, workload_started

# Under rmapshim run the arena is the supervisor's memfd, not a file here
# (by hand, the preload still creates RMAPSHIM_OUT/arena).
RUN_FILES = ("events.rlog", "mmsem")
# Source files linked into the supervisor (rmapshim-run) only; everything
# else in shim/ and rmapcore/ runs inside the workload.
SUPERVISOR = ("run.c", "runopts.c", "runshadow.c")


def forkstorm():
    return [example("forkstorm"), "-n", "20", "-m", "2"]


def case_perms():
    top = scratch()
    try:
        out = os.path.join(top, "run")
        r = run(traced_cmd(out, forkstorm()))
        check(r.rc == 0, "perms: run %r" % r)
        st = os.lstat(out)
        check(stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700,
              "perms: run directory mode %o" % st.st_mode)
        for name in RUN_FILES:
            st = os.lstat(os.path.join(out, name))
            check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
                  and st.st_uid == os.geteuid(), "perms: %s mode %o uid %d"
                  % (name, st.st_mode, st.st_uid))
        run([CLI, "report", out])
        for name in os.listdir(out):
            mode = stat.S_IMODE(os.lstat(os.path.join(out, name)).st_mode)
            check(not mode & 0o022, "perms: %s is writable by others (%o)" % (name, mode))
            if mode & 0o044:
                print("note: %s is readable by others (%o) inside the 0700 directory"
                      % (name, mode))
    finally:
        shutil.rmtree(top)


def listing():
    return {d: sorted(os.listdir(d)) for d in ("/tmp", "/dev/shm")}


def case_leftovers():
    in_mount_namespace()
    # The run directories live in the build tree, outside what is watched.
    top = tempfile.mkdtemp(prefix="leftovers.", dir=os.path.join(BUILD, "tests", "faults"))
    mounted = []
    try:
        for d in ("/tmp", "/dev/shm"):
            if check(run(["mount", "-t", "tmpfs", "-o", "size=64m", "rmapshim-faults", d]).rc == 0,
                     "cannot mount a tmpfs on %s" % d):
                mounted.append(d)
        before = listing()
        r = run(traced_cmd(os.path.join(top, "clean"), forkstorm()))
        check(r.rc == 0, "leftovers: clean run %r" % r)
        killed = os.path.join(top, "killed")
        p = subprocess.Popen(traced_cmd(killed, [example("threadchurn"), "-t", "3", "-n", "400"]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        check(workload_started(p), "leftovers: the workload never started")
        try:
            p.wait(timeout=0.2)    # the fault moment: well inside the workload
        except subprocess.TimeoutExpired:
            for kid in children(p.pid):
                os.kill(kid, signal.SIGKILL)
        try:
            check(p.wait(timeout=60) == 128 + signal.SIGKILL, "leftovers: killed run exit %s"
                  % p.returncode)
        except subprocess.TimeoutExpired:
            check(False, "leftovers: the killed run hung")
            os.killpg(p.pid, signal.SIGKILL)
        for d in ("clean", "killed"):
            check(run([CLI, "report", os.path.join(top, d)]).rc == 0, "leftovers: report %s" % d)
        after = listing()
        check(before == after, "leftovers: before %s, after %s" % (before, after))
    finally:
        for d in mounted:
            run(["umount", d])
        shutil.rmtree(top)


def getenv_calls():
    """(file, argument) of every getenv/secure_getenv call in shim/ and rmapcore/."""
    calls = []
    for sub in ("shim", "rmapcore"):
        for name in sorted(os.listdir(os.path.join(SRC, sub))):
            if name.endswith(".c"):
                with open(os.path.join(SRC, sub, name)) as f:
                    for arg in re.findall(r"\b(?:secure_)?getenv\(([^)]*)\)", f.read()):
                        calls.append(("%s/%s" % (sub, name), arg.strip()))
    return calls


def case_getenv():
    with open(os.path.join(SRC, "docs", "security.md")) as f:
        env_section = f.read().partition("\n## Environment\n")[2]
    documented = set(re.findall(r"^\| `([\w/.]+)` \| `([^`]+)` \|", env_section, re.M))
    calls = getenv_calls()
    check(calls, "getenv: no call found (the pattern is wrong)")
    for c in calls:
        check(c in documented, "getenv: %s reads %s, not listed in docs/security.md" % c)
        in_preload = os.path.basename(c[0]) not in SUPERVISOR
        # "var" is preload.c's parser helpers' parameter: callers pass RMAPSHIM_ENV_*.
        check(not in_preload or c[1].startswith(("RMAPSHIM_", '"RMAPSHIM_')) or c[1] == "var",
              "getenv: the preload reads %s in %s" % (c[1], c[0]))
    for c in sorted(documented - set(calls)):
        check(False, "getenv: docs/security.md lists %s %s, not in the source" % c)
    print("%d getenv calls, all documented" % len(calls))


def byhand(out):
    env = dict(os.environ, LD_PRELOAD=PRELOAD, RMAPSHIM_OUT=out)
    return run(["/bin/echo", "ok"], env=env)


def case_byhand_outdir():
    top = scratch()
    try:
        target = os.path.join(top, "target")
        os.mkdir(target)
        os.symlink(target, os.path.join(top, "link"))
        r = byhand(os.path.join(top, "link"))
        check(r.out == "ok\n", "byhand symlink: workload output %r" % r.out)
        check(not os.listdir(target), "byhand symlink: wrote %s through it" % os.listdir(target))
        # A directory someone else owns and can write: they could swap the files.
        shared = os.path.join(top, "shared")
        os.mkdir(shared)
        os.chown(shared, 65534, 65534)
        os.chmod(shared, 0o777)
        r = byhand(shared)
        check(r.out == "ok\n", "byhand foreign dir: workload output %r" % r.out)
        check(not os.listdir(shared), "byhand foreign dir: wrote %s" % os.listdir(shared))
        # A planted arena: attaching it would let its owner feed the shim.
        planted = os.path.join(top, "planted")
        os.mkdir(planted, 0o700)
        with open(os.path.join(planted, "arena"), "wb") as f:
            f.write(b"\xff" * 65536)
        os.chown(os.path.join(planted, "arena"), 65534, 65534)
        r = byhand(planted)
        check(r.rc == 0 and r.out == "ok\n", "byhand planted arena: %r %r" % (r, r.out))
        check(sorted(os.listdir(planted)) == ["arena"],
              "byhand planted arena: used it, wrote %s" % os.listdir(planted))
    finally:
        shutil.rmtree(top)


if __name__ == "__main__":
    case_main(globals())
