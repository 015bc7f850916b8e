# SPDX-License-Identifier: MIT
"""Programs that must behave exactly as without the shim (issue 6 items 5-7).

usage: behaviour.py CASE
  backtrace  glibc backtrace() symbol names, 12 frames deep, in threads
  cxxthrow   C++ exceptions 40 frames deep in 4 threads, with rethrow
  signals    SIGALRM handlers that mmap/munmap (200 signals)
  forkmix    threads mapping during fork, fork under malloc's locks,
             vfork+exec, posix_spawn, clone(CLONE_VM), _exit from a child
             of a multithreaded parent
  raw-mmap   syscall(SYS_mmap): no hook; the checkpoint's reconciliation
             finds the pages and the oracle agrees
  setuid     a setuid copy of id(1) run inside the traced tree
  static     a static binary, inside the tree and as the command
"""
import os
import shutil
import sys

from faultlib import (check, check_clean, done, notes, prog, require_tracing, same_as_native,
                      scratch, skip)


def traced_clean(name, cmd):
    rep, res = same_as_native(name, cmd)
    check_clean(name, rep)
    return rep, res


def case_backtrace():
    rep, res = traced_clean("backtrace", [prog("btnames")])
    # The comparison is only worth something if names were resolved.
    check(res.out.count("recurse") >= 4 * 12, "backtrace: names missing: %r" % res.out[:300])


def case_cxxthrow():
    _, res = traced_clean("cxxthrow", [prog("throwdeep")])
    check("caught 200" in res.out, "cxxthrow: %r" % res.out)


def case_signals():
    _, res = traced_clean("signals", [prog("sigmmap")])
    check(res.out.startswith("handlers: 200, failures: 0"), "signals: %r" % res.out)


def case_forkmix():
    for s in ("threads-fork", "malloc-fork", "vfork-exec", "spawn", "clone-vm", "mt-exit"):
        traced_clean("forkmix " + s, [prog("forkmix"), s])


def case_raw_mmap():
    rep, _ = traced_clean("raw-mmap", [prog("forkmix"), "raw-mmap"])
    if rep:
        check(rep["oracle"]["compared"] >= 64, "raw-mmap: oracle %s" % rep["oracle"])


def untraceable_note(name, rep, why):
    check(rep and any(why in n for n in notes(rep)),
          "%s: the report has no note saying %r: %s" % (name, why, rep and notes(rep)))


def case_setuid():
    top = scratch()
    try:
        os.chmod(top, 0o755)
        suid = os.path.join(top, "id")
        shutil.copy("/usr/bin/id", suid)
        # Owned by nobody: root running it gets AT_SECURE, so ld.so ignores
        # LD_PRELOAD, as for any user running a setuid program.
        os.chown(suid, 65534, 65534)
        os.chmod(suid, 0o4755)
        rep, _ = traced_clean("setuid", ["sh", "-c", "%s -un; echo status $?" % suid])
        untraceable_note("setuid", rep, "setuid")
    finally:
        shutil.rmtree(top)


def case_static():
    path = os.path.join(os.environ.get("RMAPSHIM_FAULT_PROGS", ""), "staticprog")
    if not os.path.exists(path):
        skip("no static libc (libc6-dev's libc.a): staticprog not built")
    rep, _ = traced_clean("static in tree", ["sh", "-c", "%s; echo status $?" % path])
    untraceable_note("static in tree", rep, "static")
    rep, res = same_as_native("static command", [path])
    lines = [l for l in res.err.splitlines() if l.startswith("rmapshim")]
    check(len(lines) == 1 and "static" in lines[0] and "cannot be traced" in lines[0],
          "static command: stderr %r" % res.err)


def main():
    require_tracing()
    case = sys.argv[1]
    globals()["case_" + case.replace("-", "_")]()
    done(case + ": same output and status as natively; log readable and clean")


if __name__ == "__main__":
    main()
