# SPDX-License-Identifier: MIT
"""Bad input (issue 6 item 8): one clear line on stderr, exit status 2,
nothing written.

usage: badinput.py CASE
  cli-options  every option `rmapshim run --help` lists, given wrong values
               (the list is read from --help, so a new option is covered)
  env-vars     every RMAPSHIM_* variable of docs/shim.md, wrong values
  env-out      RMAPSHIM_OUT naming a file or an impossible place
  outdir       `run -o` directories that must be refused: existing,
               symlinked, read-only (by-hand RMAPSHIM_OUT: security.py)
"""
import os
import re
import shutil

from faultlib import (case_main, CLI, PRELOAD, SRC, check, in_mount_namespace, run, scratch)

BAD_NUMBERS = ["x", "-1", "1.5", "", "99999999999999999999999"]
BAD_WORDS = ["bogus", "", "LOCKED"]


def options_from_help():
    """(option, metavar or None, takes '=' only) from `rmapshim run --help`."""
    out = run([CLI, "run", "--help"]).out
    opts = []
    for m in re.finditer(r"^\s+(?:-\w, )?(--[a-z-]+)(\[=([A-Z]+)\]|=([a-z|]+)|\s([A-Z]+))?",
                         out, re.M):
        opt, optional, choices, meta = m.group(1), m.group(3), m.group(4), m.group(5)
        opts.append((opt, optional or meta or (choices and "CHOICE"), optional is not None))
    return opts


def bad_values(meta):
    return BAD_WORDS + ["broken-nonatomic"] if meta in ("MODE", "KIND", "CHOICE") else BAD_NUMBERS


def one_line_2(what, res, name, cwd=None):
    lines = res.err.splitlines()
    check(res.rc == 2, "%s: exit %d, expected 2 (%r)" % (what, res.rc, res.err))
    check(len(lines) == 1, "%s: %d stderr lines: %r" % (what, len(lines), lines))
    check(bool(lines) and name in lines[0], "%s: the line does not name %s: %r"
          % (what, name, lines[:1]))
    if cwd:
        check(not os.listdir(cwd), "%s: wrote %s" % (what, os.listdir(cwd)))


def case_cli_options():
    cwd = scratch()
    opts = options_from_help()
    check(len(opts) >= 10, "only %d options parsed from --help: %s" % (len(opts), opts))
    tried = 0
    try:
        for opt, meta, eq_only in opts:
            if opt in ("--help", "--quiet") or opt == "-o":
                continue
            forms = ([[opt + "=" + v] for v in bad_values(meta)] if meta else [[opt + "=x"]])
            if meta and not eq_only:
                forms += [[opt, v] for v in bad_values(meta)] + [[opt]]
            for args in forms:
                tail = ["--", "true"] if args != [opt] or not meta else []
                one_line_2("run %s" % args, run([CLI, "run"] + args + tail, cwd=cwd), opt, cwd)
                tried += 1
    finally:
        shutil.rmtree(cwd)
    print("%d wrong command lines over %d options" % (tried, len(opts)))


def shim_variables():
    with open(os.path.join(SRC, "docs", "shim.md")) as f:
        names = re.findall(r"^\| `(RMAPSHIM_[A-Z_]+)` \| ([^|]+)\|", f.read(), re.M)
    return [(n, v.strip()) for n, v in names]


def case_env_vars():
    """By hand the preload reads every variable (RMAPSHIM_LOG_MB is the
    supervisor's); through `rmapshim run` the supervisor sets the preload's
    variables from its options and reads only RMAPSHIM_LOG_MB."""
    cwd = scratch()
    tried = 0
    out = os.path.join(cwd, "run")
    try:
        for name, values in shim_variables():
            if name in ("RMAPSHIM_OUT", "RMAPSHIM_PARENT"):
                continue
            bad = BAD_NUMBERS if re.search(r"\d|integer|MiB", values) else BAD_WORDS
            for v in filter(None, bad):     # empty means unset for several variables
                if name == "RMAPSHIM_LOG_MB":
                    res = run([CLI, "run", "-q", "-o", out, "--", "/bin/true"],
                              env=dict(os.environ, **{name: v}), cwd=cwd)
                else:
                    res = run(["/bin/true"], env=dict(os.environ, LD_PRELOAD=PRELOAD,
                                                      RMAPSHIM_OUT=out, **{name: v}))
                one_line_2("%s=%r" % (name, v), res, name)
                check(not os.path.exists(out) or name != "RMAPSHIM_LOG_MB",
                      "%s=%r: created the run directory" % (name, v))
                shutil.rmtree(out, ignore_errors=True)
                tried += 1
        # Internal: whatever the workload puts there must not break it.
        for v in ("garbage", "1:2", "-5:x", ""):
            env = dict(os.environ, LD_PRELOAD=PRELOAD, RMAPSHIM_OUT=out, RMAPSHIM_PARENT=v)
            r = run(["/bin/echo", "ok"], env=env)
            check(r.rc == 0 and r.out == "ok\n" and not r.err,
                  "RMAPSHIM_PARENT=%r: %r %r" % (v, r, r.out))
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(cwd)
    print("%d wrong variable values refused" % tried)


def case_env_out():
    cwd = scratch()
    try:
        afile = os.path.join(cwd, "file")
        open(afile, "w").close()
        for v in (afile, os.path.join(afile, "sub"), "/proc/rmapshim-faults"):
            env = dict(os.environ, LD_PRELOAD=PRELOAD, RMAPSHIM_OUT=v)
            one_line_2("by hand RMAPSHIM_OUT=%s" % v, run(["/bin/true"], env=env), "RMAPSHIM_OUT")
        check(os.listdir(cwd) == ["file"] and os.path.getsize(afile) == 0,
              "RMAPSHIM_OUT: wrote %s" % os.listdir(cwd))
    finally:
        shutil.rmtree(cwd)


def refused(what, res, outside):
    lines = res.err.splitlines()
    check(res.rc == 2 and len(lines) == 1, "%s: exit %d, stderr %r" % (what, res.rc, lines))
    check(not os.listdir(outside), "%s: wrote %s into %s" % (what, os.listdir(outside), outside))


def case_outdir():
    in_mount_namespace()
    cwd = scratch()
    try:
        target = os.path.join(cwd, "target")
        os.mkdir(target)
        os.symlink(target, os.path.join(cwd, "link"))
        refused("run -o existing", run([CLI, "run", "-q", "-o", target, "--", "true"]), target)
        refused("run -o symlink", run([CLI, "run", "-q", "-o", os.path.join(cwd, "link"),
                                      "--", "true"]), target)
        ro = os.path.join(cwd, "ro")
        os.mkdir(ro)
        if check(run(["mount", "--bind", "-o", "ro", ro, ro]).rc == 0, "cannot bind-mount %s" % ro):
            try:
                refused("run -o read-only place", run([CLI, "run", "-q", "-o",
                                                       os.path.join(ro, "run"), "--", "true"]), ro)
            finally:
                run(["umount", ro])
    finally:
        shutil.rmtree(cwd)


if __name__ == "__main__":
    case_main(globals())
