# SPDX-License-Identifier: MIT
"""rmapshim-run (the `rmapshim run` supervisor) from the outside.

Usage: test_run.py CASE RMAPSHIM_RUN SIGPROG
CASE: badopts outdir exitstatus signals untraceable reaped reclaim.
Exit 77 (skip) when a case needs librmapshim.so and it is not built next
to RMAPSHIM_RUN."""
import os
import signal
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rlogread  # noqa: E402
import sanruntime  # noqa: E402

RUN, SIGPROG = sys.argv[2], sys.argv[3]
SHIM = os.path.normpath(os.path.join(os.path.dirname(RUN), "..", "lib", "librmapshim.so"))
HAVE_SHIM = os.path.exists(SHIM)
SUPERVISOR = sanruntime.traced([RUN])     # with a sanitizer runtime preloaded, if any
LOCK_CLASSES = 6
RUN_START = struct.Struct("<IIIIiIQQ")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(args, cwd, **kw):
    return subprocess.run(SUPERVISOR + args, cwd=cwd, capture_output=True, text=True,
                          timeout=30, **kw)


def read_run(d):
    """The run directory's log: (log, run_end dict); checks its integrity."""
    log = rlogread.Log(os.path.join(d, "events.rlog"))
    check(log.corrupt == 0, f"{d}: {log.corrupt} corrupt segments")
    starts, ends = log.of_type("RUN_START"), log.of_type("RUN_END")
    check(len(starts) == 1 and len(ends) == 1,
          f"{d}: {len(starts)} RUN_START, {len(ends)} RUN_END records")
    check(max(r[2] for r in log.records) == ends[0][2], "RUN_END is not the last record")
    size = os.path.getsize(os.path.join(d, "events.rlog"))
    check(log.nseg == max(1, min(log.next_seg, log.nseg)) and
          size == log.header_size + log.nseg * log.seg_size,
          f"{d}: log not trimmed: {size} bytes, nseg {log.nseg}, next_seg {log.next_seg}")
    return log, rlogread.run_end(ends[0][4])


def badopts():
    cases = [
        (["--mode", "fast", "--", "true"], "--mode 'fast'"),
        (["--mode"], "--mode"),
        (["--mode=broken-nonatomic", "--", "true"], "--mode"),
        (["--stacks", "x", "--", "true"], "--stacks"),
        (["--stacks", "999", "--", "true"], "--stacks"),
        (["--stacks=-1", "--", "true"], "--stacks"),
        (["--events", "all", "--", "true"], "--events"),
        (["--reclaim=0", "--", "true"], "--reclaim"),
        (["--reclaim=fast", "--", "true"], "--reclaim"),
        (["--sample-ms", "0", "--", "true"], "--sample-ms"),
        (["--sample-ms", "10ms", "--", "true"], "--sample-ms"),
        (["--verify=some", "--", "true"], "--verify"),
        (["--verify"], "--verify"),
        (["--perturb=0", "--", "true"], "--perturb"),
        (["--perturb=x", "--", "true"], "--perturb"),
        (["--frobnicate", "--", "true"], "--frobnicate"),
        (["-o"], "-o"),
        (["-o", "--", "true"], "-o"),
        (["--mode", "--", "true"], "--mode"),
        ([], "command"),
        (["--"], "command"),
        (["-q", "--mode", "locked"], "command"),
    ]
    with tempfile.TemporaryDirectory() as cwd:
        for args, name in cases:
            r = run(args, cwd)
            lines = r.stderr.splitlines()
            check(r.returncode == 2, f"{args}: exit {r.returncode}, expected 2")
            check(len(lines) == 1, f"{args}: {len(lines)} stderr lines: {lines!r}")
            opt, _, val = name.partition(" ")
            check(opt in lines[0] and val in lines[0], f"{args}: '{lines[0]}' does not name {name}")
            check("--help" in lines[0] or "CMD" in lines[0], f"{args}: no hint in '{lines[0]}'")
            check(not os.listdir(cwd), f"{args}: wrote {os.listdir(cwd)}")
        r = run(["--help"], cwd)
        check(r.returncode == 0 and r.stdout.startswith("usage: rmapshim run"),
              f"--help: exit {r.returncode}, {r.stdout[:40]!r}")
        env = dict(os.environ, RMAPSHIM_LOG_MB="lots")
        r = run(["--", "true"], cwd, env=env)
        check(r.returncode == 2 and "RMAPSHIM_LOG_MB" in r.stderr, "RMAPSHIM_LOG_MB not checked")
        check(not os.listdir(cwd), f"RMAPSHIM_LOG_MB: wrote {os.listdir(cwd)}")
    print(f"{len(cases)} bad command lines refused with exit 2 and one line")


def refused(cwd, out, what):
    before = sorted(os.listdir(cwd))
    r = run(["-o", out, "--", "true"], cwd)
    lines = r.stderr.splitlines()
    check(r.returncode == 2, f"{what}: exit {r.returncode}, expected 2")
    check(len(lines) == 1, f"{what}: {len(lines)} stderr lines: {lines!r}")
    check(sorted(os.listdir(cwd)) == before, f"{what}: {cwd} changed")


def outdir():
    with tempfile.TemporaryDirectory() as cwd:
        os.mkdir(os.path.join(cwd, "exists"))
        refused(cwd, "exists", "existing directory")
        check(not os.listdir(os.path.join(cwd, "exists")), "wrote into an existing directory")
        os.mkdir(os.path.join(cwd, "target"))
        os.symlink("target", os.path.join(cwd, "link"))
        refused(cwd, "link", "symlink to a directory")
        check(not os.listdir(os.path.join(cwd, "target")), "wrote through a symlink")
        os.symlink("nowhere", os.path.join(cwd, "dangling"))
        refused(cwd, "dangling", "dangling symlink")
        check(not os.path.exists(os.path.join(cwd, "nowhere")), "created a symlink's target")
        open(os.path.join(cwd, "file"), "w").close()
        refused(cwd, "file/sub", "path under a regular file")
        refused(cwd, "/proc/rmapshim-run-test", "unwritable place")
    print("existing, symlinked and unwritable run directories refused, nothing written")


def preload_order():
    """The shim goes in front of the workload's LD_PRELOAD, but behind a
    leading sanitizer runtime, which must be the first library loaded.
    The made-up paths only make ld.so warn."""
    if not HAVE_SHIM:
        sys.exit(77)
    other, asan, tsan = "/nonexistent/libother.so", "/x/libasan.so.8", "/y/libtsan.so.2"
    cases = (("", [SHIM]), (other, [SHIM, other]), (asan + ":" + other, [asan, SHIM, other]),
             (asan + " " + tsan, [asan, tsan, SHIM]))
    with tempfile.TemporaryDirectory() as cwd:
        for i, (given, want) in enumerate(cases):
            r = run(["-q", "-o", os.path.join(cwd, str(i)), "--", "sh", "-c", 'echo "$LD_PRELOAD"'],
                    cwd, env=dict(os.environ, LD_PRELOAD=given))
            got = [e for e in r.stdout.strip().replace(" ", ":").split(":") if e]
            check(got == want, f"LD_PRELOAD={given!r}: the workload got {r.stdout.strip()!r}")
    print(f"LD_PRELOAD in the right order in {len(cases)} cases")


def exitstatus():
    with tempfile.TemporaryDirectory() as cwd:
        for args, want in ((["sh", "-c", "exit 3"], 3),
                           (["sh", "-c", "kill -TERM $$"], 128 + signal.SIGTERM),
                           (["/nonexistent/program"], 127)):
            d = os.path.join(cwd, f"run{want}")
            r = run(["-q", "-o", d, "--"] + args, cwd)
            check(r.returncode == want, f"{args}: exit {r.returncode}, expected {want}")
            log, end = read_run(d)
            check(end["exit_status"] == want, f"{args}: RUN_END exit_status {end['exit_status']}")
            check(end["processes"] >= 1 and end["duration_ns"] > 0, f"{args}: {end}")
            check(len(log.of_type("LOCKSTAT")) == LOCK_CLASSES,
                  f"{args}: {len(log.of_type('LOCKSTAT'))} LOCKSTAT records")
            if HAVE_SHIM:
                check(r.stderr == "" or want == 127, f"-q still printed {r.stderr!r}")
        start = log.of_type("RUN_START")[0][4]
        argv = rlogread.string_at(start, 40)[0]
        check(argv == b"/nonexistent/program\0", f"RUN_START argv {argv!r}")
        # The options reach RUN_START.
        d = os.path.join(cwd, "opts")
        r = run(["-q", "-o", d, "--mode", "locked", "--reclaim", "--perturb=7",
                 "--stacks=3", "--events=pages", "--verify=full", "--", "true"], cwd)
        check(r.returncode == 0, f"options run: exit {r.returncode}, {r.stderr!r}")
        log, _ = read_run(d)
        got = RUN_START.unpack_from(log.of_type("RUN_START")[0][4], 0)
        # mode locked, events pages, 3 frames, verify full; reclaim 10000, seed 7
        want = (0, 1, 3, 2, 10000, 7)
        check(got[:4] + got[6:] == want, f"RUN_START {got}, expected {want}")
        check(got[4] > 0 and got[5] in (0, 1), f"RUN_START pid/pfn_access {got[4:6]}")
        # Default directory name, and the start and end lines.
        r = run(["--", "true"], cwd)
        check(r.returncode == 0, f"true: exit {r.returncode}")
        made = [n for n in os.listdir(cwd) if n.startswith("rmapshim.true.")]
        check(len(made) == 1, f"default run directory: {os.listdir(cwd)}")
        d = os.path.realpath(os.path.join(cwd, made[0]))
        lines = [x for x in r.stderr.splitlines() if "librmapshim.so not found" not in x]
        check(len(lines) == 2, f"stderr lines {lines!r}")
        mode = "tracing true in lockless mode" if HAVE_SHIM else "running true untraced"
        check(lines[0] == f"rmapshim: {mode}, writing {d}/", f"start line {lines[0]!r}")
        check(lines[-1].endswith(f"rmapshim report {d}"), f"end line {lines[-1]!r}")
        check(os.stat(d).st_mode & 0o777 == 0o700, "run directory is not 0700")
        read_run(d)
    print("exit status 3, 143 and 127 propagated; RUN_START/RUN_END written")


def signals():
    with tempfile.TemporaryDirectory() as cwd:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            d = os.path.join(cwd, f"sig{int(sig)}")
            p = subprocess.Popen(SUPERVISOR + ["-q", "-o", d, "--", SIGPROG, "wait"], cwd=cwd,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            ready = p.stdout.readline()
            check(ready.startswith("ready"), f"{sig.name}: workload said {ready!r}")
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            check(p.returncode == 42, f"{sig.name}: exit {p.returncode}, stderr {err!r}")
            check(out.strip() == f"got {sig.name}", f"{sig.name}: workload printed {out!r}")
            _, end = read_run(d)
            check(end["exit_status"] == 42, f"{sig.name}: RUN_END exit_status {end['exit_status']}")
        # An orphan of the tree is waited for and gets the signal too.
        d = os.path.join(cwd, "orphan")
        p = subprocess.Popen(SUPERVISOR + ["-q", "-o", d, "--", SIGPROG, "orphan"], cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = p.stdout.readline()
        check(ready.startswith("ready"), f"orphan said {ready!r}")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0, f"orphan run: exit {p.returncode}, stderr {err!r}")
        check(out.strip() == "got SIGTERM", f"orphan printed {out!r}")
        _, end = read_run(d)
        check(end["processes"] >= 2, f"orphan run: {end['processes']} processes")
    print("SIGINT, SIGTERM, SIGHUP, SIGQUIT forwarded (also to an orphan); runs finalized")


def untraceable():
    """Static and setuid commands: one line, a NOTE, and they still run."""
    with tempfile.TemporaryDirectory() as cwd:
        suid = os.path.join(cwd, "suid-true")
        with open("/bin/true", "rb") as src, open(suid, "wb") as dst:
            dst.write(src.read())
        os.chmod(suid, 0o755)
        if os.geteuid() == 0:
            os.chown(suid, 65534, 65534)
        os.chmod(suid, 0o4755)
        cases = [([suid], "setuid/setgid")]
        if os.path.exists("/sbin/ldconfig"):    # static-pie on Debian
            cases.append((["/sbin/ldconfig", "--version"], "static binary"))
        for args, why in cases:
            d = os.path.join(cwd, os.path.basename(args[0]) + ".run")
            r = run(["-q", "-o", d, "--"] + args, cwd)
            check(r.returncode == 0, f"{args}: exit {r.returncode}, {r.stderr!r}")
            lines = r.stderr.splitlines()
            check(len(lines) == 1 and why in lines[0] and "cannot be traced" in lines[0],
                  f"{args}: stderr {lines!r}")
            log, _ = read_run(d)
            notes = [rlogread.note_text(n[4])[2] for n in log.of_type("NOTE")]
            check(any(why in t for t in notes), f"{args}: no NOTE saying {why}")
    print(f"{len(cases)} untraceable commands run untraced with one line and a NOTE")


def reaped():
    if not HAVE_SHIM:
        print(f"SKIP: {SHIM} is not built")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as cwd:
        for args, want in ((["sh", "-c", "kill -KILL $$"], 128 + signal.SIGKILL),
                           (["sh", "-c", "sh -c 'kill -KILL $$'; exit 5"], 5)):
            d = os.path.join(cwd, f"reap{want}")
            r = run(["-q", "-o", d, "--"] + args, cwd)
            check(r.returncode == want, f"{args}: exit {r.returncode}, {r.stderr!r}")
            log, end = read_run(d)
            exits = [rlogread.exit_rec(x[4]) for x in log.of_type("EXIT")]
            how_reaped = [e for e in exits if e["how"] == 2]
            check(end["reaped"] >= 1 and len(how_reaped) == end["reaped"],
                  f"{args}: reaped {end['reaped']}, EXIT how=REAPED {len(how_reaped)}")
            check(end["nr_mapped_final"] == 0 and end["nr_mapped_peak"] > 0,
                  f"{args}: nr_mapped final {end['nr_mapped_final']} peak {end['nr_mapped_peak']}")
            check(end["violations"] == 0, f"{args}: {end['violations']} violations")
            notes = [rlogread.note_text(n[4])[2] for n in log.of_type("NOTE")]
            check(any("reaped" in t for t in notes), f"{args}: no note about the reaping")
    print("SIGKILLed processes' mms reaped by the supervisor, nr_mapped back to 0")


def reclaim():
    """The shadow vmscan thread runs concurrently with a traced tree and
    stops with it; the shadow stays consistent in every mode."""
    if not HAVE_SHIM:
        print(f"SKIP: {SHIM} is not built")
        sys.exit(77)
    work = ["sh", "-c", "for i in 1 2 3 4 5 6; do sh -c 'exit 0' & done; wait"]
    with tempfile.TemporaryDirectory() as cwd:
        for mode in ("locked", "lockless", "lockless-rcu"):
            d = os.path.join(cwd, mode)
            r = run(["-q", "-o", d, "--mode", mode, "--reclaim", "--"] + work, cwd)
            check(r.returncode == 0, f"{mode}: exit {r.returncode}, {r.stderr!r}")
            _, end = read_run(d)
            check(end["nr_mapped_final"] == 0, f"{mode}: nr_mapped {end['nr_mapped_final']}")
            check(end["processes"] >= 7, f"{mode}: {end['processes']} processes")
            # Invariants under reclaim are rmapcore's to test (its stress
            # cases); here they are only shown.
            print(f"{mode}: {end['violations']} violations")
    print("--reclaim in 3 modes: vmscan thread stopped with the tree, nr_mapped back to 0")


if __name__ == "__main__":
    if os.environ.get("RMAPSHIM_TEST_SKIP"):
        print("SKIP: sanitized build: %s" % os.environ["RMAPSHIM_TEST_SKIP"])
        sys.exit(77)
    {"badopts": badopts, "outdir": outdir, "exitstatus": exitstatus, "preload-order": preload_order,
     "signals": signals, "untraceable": untraceable, "reaped": reaped,
     "reclaim": reclaim}[sys.argv[1]]()
