# SPDX-License-Identifier: MIT
"""The shim under real programs: each case runs a command natively and under
`rmapshim-run`, and asserts identical stdout and exit status, a log that
reads back completely (CRC, every PROC_START has a final EXIT), and full
oracle agreement at every explicit checkpoint.

usage: test_shim.py CASE BUILD_DIR PROGS_DIR [MODE]
"""
import collections
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import sanruntime  # noqa: E402
import shimlog  # noqa: E402

SKIP = 77
CASE, BUILD, PROGS = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
MODE = sys.argv[4] if len(sys.argv) > 4 else "lockless"
RUN = os.path.join(BUILD, "bin", "rmapshim-run")
LIB = os.path.join(BUILD, "lib", "librmapshim.so")
SUPERVISOR = sanruntime.traced([RUN])     # with a sanitizer runtime preloaded, if any
EX = os.path.join(BUILD, "examples")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(cmd, cwd=None, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd, env=env, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def traced(cmd, name, cwd=None, min_compared=0, opts=(), inspect=None, min_checkpoints=0):
    """Run @cmd natively and under the shim; assert the shim changed nothing.
    @inspect(run_dir, log) may look at the run before it is removed."""
    rc0, out0, _ = run(cmd, cwd=cwd)
    out_dir = tempfile.mkdtemp(prefix="shimtest.") + "/run"
    rc1, out1, err1 = run(SUPERVISOR + ["-q", "--mode", MODE, "-o", out_dir] + list(opts) + ["--"] + cmd,
                          cwd=cwd)
    check(rc0 == rc1, "%s: exit status %d natively, %d traced (%s)" % (name, rc0, rc1, err1.strip()))
    check(out0 == out1, "%s: stdout differs:\n--- native\n%s--- traced\n%s" % (name, out0, out1))
    log = shimlog.Log(os.path.join(out_dir, "events.rlog"))
    counts = log.counts()
    check(log.corrupt == 0, "%s: %d corrupt records" % (name, log.corrupt))
    check(counts["RUN_END"] == 1, "%s: no RUN_END" % name)
    check(counts["PROC_START"] >= 1, "%s: no PROC_START" % name)
    check(not log.unfinished(), "%s: processes without EXIT: %s" % (name, log.unfinished()))
    explicit = [o for o in log.oracles() if o["explicit"]]
    bad = [o for o in explicit if o["mismatched"]]
    check(not bad, "%s: oracle mismatches at explicit checkpoints: %s" % (name, bad))
    compared = sum(o["compared"] for o in explicit)
    check(compared >= min_compared, "%s: only %d pages compared at explicit checkpoints"
          % (name, compared))
    check(len(explicit) >= min_checkpoints, "%s: %d explicit checkpoints, at least %d expected"
          % (name, len(explicit), min_checkpoints))
    print("%s [%s]: rc %d, %d records, %d processes, %d explicit checkpoints, "
          "%d pages compared" % (name, MODE, rc1, len(log.records), counts["PROC_START"],
                                 len(explicit), compared))
    if inspect:
        inspect(out_dir, log)
    shutil.rmtree(os.path.dirname(out_dir))
    return log


EXAMPLES = {
    "forkstorm": ["-n", "30", "-m", "4"],
    "cowstorm": ["-n", "3", "-m", "4", "-f", "0.3"],
    "sharedfile": ["-p", "3", "-m", "4"],
    "threadchurn": ["-t", "3", "-n", "40"],
    "execchain": ["-d", "2"],
}


def example(name, args=None):
    exe = os.path.join(EX, name)
    if not os.path.exists(exe):
        print("skip: %s not built" % exe)
        return
    # Issue 3's bar: >= 1,000 pages compared over >= 3 checkpoints, all agreeing.
    traced([exe] + (args or EXAMPLES[name]), name, min_compared=1000, min_checkpoints=3)


def case_examples():
    """The example zoo, small sizes, in MODE."""
    for name in EXAMPLES:
        example(name)


def case_threadchurn():
    """threadchurn alone: make test-tsan runs it with a TSan-built shim (a
    race report exits 66).  Smaller than in the zoo: TSan's own shadow
    memory makes each fork copy ~100,000 pages."""
    example("threadchurn", ["-t", "3", "-n", "12"])


def case_forkzoo():
    """fork, _Fork, clone, vfork+exec, posix_spawn, system, popen, thread fork."""
    log = traced([os.path.join(PROGS, "forkzoo")], "forkzoo", min_compared=2000)
    kinds = {__import__("struct").unpack_from("<iiIII", p)[4] for p in log.of("FORK")}
    check({0, 1, 2, 3, 5} <= kinds, "forkzoo: fork kinds seen %s" % sorted(kinds))


def case_fdenv():
    """No fd leaked into the workload or its exec'd children, env unchanged."""
    traced([os.path.join(PROGS, "fdenv")], "fdenv")


def case_backtrace():
    """glibc backtrace() and C++ exceptions in threads behave as natively."""
    traced([os.path.join(PROGS, "btcheck")], "btcheck")
    traced([os.path.join(PROGS, "cxxthrow")], "cxxthrow")
    nm = run(["nm", "-D", "--defined-only", LIB])[1].split()
    leaked = [s for s in nm if s.startswith(("unw_", "_U", "rmap_", "rlog_", "page_"))
              or s == "backtrace"]
    check(not leaked, "librmapshim.so exports %s" % leaked)


def stacks_named(name, unwinder, extra_sites=()):
    """An inspect callback: every process's NOTE names @unwinder; the
    module map is logged before the dlopen, again with the library, and
    again without it after the dlclose; the report names every call site."""
    def inspect(run_dir, log):
        notes = [n for n in log.notes() if n.startswith("stacks: ")]
        check(notes and all(unwinder in n for n in notes),
              "%s: stack notes %s, want %r" % (name, notes, unwinder))
        gens = [(gen, any(p.endswith("/libstacklib.so") for p in paths))
                for _pid, gen, paths in log.modules()]
        with_lib = [g for g, has in gens if has]
        check(with_lib and any(g < min(with_lib) for g, has in gens if not has)
              and any(g > max(with_lib) for g, has in gens if not has),
              "%s: MODULES (generation, has libstacklib) %s" % (name, gens))
        rc, out, err = run([os.path.join(BUILD, "bin", "rmapshim"), "report", "--json", run_dir])
        check(rc == 0, "%s: report rc %d: %s" % (name, rc, err.strip()))
        sites = json.loads(out)["top_sites"] if rc == 0 else []
        names = {f.get("function") for s in sites for f in s["frames"]}
        for fn in ("stackprobe_before_dlopen", "stacklib_touch", "stackprobe_after_dlclose",
                   "main") + tuple(extra_sites):
            check(fn in names, "%s: no report stack names %s: %s" % (name, fn, sorted(
                n for n in names if n)))
    return inspect


def case_stacks():
    """Stacks through dlopen/dlclose, symbolized by the report: from the
    shim's private libunwind, and from glibc backtrace() when the program
    links libunwind itself (the fallback: its libunwind is its own)."""
    lib = os.path.join(PROGS, "libstacklib.so")
    traced([os.path.join(PROGS, "stackprobe"), lib], "stackprobe",
           inspect=stacks_named("stackprobe", "libunwind unw_backtrace"))
    traced([os.path.join(PROGS, "stackprobe-unw"), lib], "stackprobe-unw",
           inspect=stacks_named("stackprobe-unw", "glibc backtrace(), not libunwind: "
                                "libunwind.so.8 is the program's own"))


def case_untraceable():
    """A static program exec'd inside the tree: unchanged, and said in the log."""
    prog = os.path.join(PROGS, "staticprog")
    log = traced(["sh", "-c", "%s; echo status $?" % prog], "untraceable")
    notes = [n for n in log.notes() if "untraceable" in n and "static" in n]
    check(len(notes) == 1, "untraceable: notes %s" % log.notes())


def case_pipeline():
    traced(["sh", "-c", "seq 1 3000 | sort -r | head -3; ls / | wc -l; "
            "(echo sub; exit 3); echo $?"], "sh-pipeline")


def case_python_mp():
    traced(["/usr/bin/python3", os.path.join(PROGS, "mpwork.py")], "python-multiprocessing")


def case_make():
    """make -j2 on a generated C project: same output, same program."""
    top = tempfile.mkdtemp(prefix="shimmake.")
    for d in ("native", "traced"):
        os.mkdir(os.path.join(top, d))
        for i in range(1, 7):
            with open(os.path.join(top, d, "f%d.c" % i), "w") as f:
                f.write("int f%d(int x) { return x * %d + 1; }\n" % (i, i))
        with open(os.path.join(top, d, "main.c"), "w") as f:
            f.write("#include <stdio.h>\nint f1(int),f2(int),f3(int),f4(int),f5(int),f6(int);\n"
                    "int main(void){printf(\"%d\\n\", f1(1)+f2(2)+f3(3)+f4(4)+f5(5)+f6(6));"
                    "return 0;}\n")
        with open(os.path.join(top, d, "Makefile"), "w") as f:
            f.write("OBJS=main.o f1.o f2.o f3.o f4.o f5.o f6.o\nprog: $(OBJS)\n"
                    "\t$(CC) -o $@ $(OBJS)\n%.o: %.c\n\t$(CC) -O1 -c $< -o $@\n")
    rc0, out0, _ = run(["make", "-j2", "-s"], cwd=os.path.join(top, "native"))
    out_dir = os.path.join(top, "run")
    rc1, out1, err1 = run(SUPERVISOR + ["-q", "--mode", MODE, "-o", out_dir, "--", "make", "-j2", "-s"],
                          cwd=os.path.join(top, "traced"))
    check(rc0 == rc1 == 0 and out0 == out1, "make: rc %d/%d out %r/%r %s" % (rc0, rc1, out0, out1, err1))
    res = [run([os.path.join(top, d, "prog")])[1] for d in ("native", "traced")]
    check(res[0] == res[1] == "97\n", "make: programs print %r" % res)
    log = shimlog.Log(os.path.join(out_dir, "events.rlog"))
    check(log.corrupt == 0 and not log.unfinished(), "make: log incomplete")
    check(log.counts()["PROC_START"] >= 8, "make: only %d processes traced" % log.counts()["PROC_START"])
    print("make -j2 [%s]: %d processes traced" % (MODE, log.counts()["PROC_START"]))
    shutil.rmtree(top)


def case_reclaim_oracle():
    """--reclaim swaps ptes out of the shadow only (the kernel still maps the
    pages): the oracle counts those as not compared, never as mismatches.
    Implicit exit checkpoints keep a rare unrelated miss (a sibling leaves
    the shadow before the kernel frees its pages), hence a 1% bound; without
    the exclusion about a fifth of the compared pages mismatch.  With
    --verify=full: the default's 5% budget left too few checkpoints under
    load (768 pages compared, or none after the reclaimer's first pass)."""
    log = traced([os.path.join(EX, "threadchurn")], "threadchurn --reclaim",
                 min_compared=1000, opts=["--reclaim=1000000", "--verify=full"])
    oracles = log.oracles()
    compared = sum(o["compared"] for o in oracles)
    mismatched = sum(o["mismatched"] for o in oracles)
    check(compared >= 1000 and mismatched * 100 <= compared,
          "reclaim: %d of %d compared pages mismatched, first %s"
          % (mismatched, compared, [o for o in oracles if o["mismatched"]][:1]))
    check(sum(o["not_compared"] for o in oracles) > 0, "reclaim: reclaimed nothing")


def case_oracle_budget():
    """Implicit checkpoints within issue 3's <= 5% budget: --verify=full
    checks after every fork and at every exit; by default a process image
    that did not come from a fork (forkstorm's root) is checked at exit
    whatever the load, and what is checked agrees."""
    n = 30
    cmd = [os.path.join(EX, "forkstorm"), "-n", str(n), "-m", "1"]

    def implicit(log):
        return [o for o in log.oracles() if not o["explicit"]]

    log = traced(cmd, "forkstorm --verify=full", opts=["--verify=full"])
    procs = log.counts()["PROC_START"]  # the root and every fork child
    full = implicit(log)
    forks = sum(o["label"] == "fork" for o in full)
    exits = sum(o["label"] == "exit" for o in full)
    check(procs > n and forks == procs - 1 and exits == procs,
          "verify=full: %d fork and %d exit checkpoints for %d processes"
          % (forks, exits, procs))
    dflt = implicit(traced(cmd, "forkstorm"))
    # Nothing is spent before the first one: the root's first fork is checked.
    roots = {o["pid"] for o in dflt if o["label"] == "fork"}
    check(len(roots) == 1 and any(o["label"] == "exit" and o["pid"] in roots for o in dflt),
          "default: the root's exit was not checked: %s" % dflt)
    check(not any(o["mismatched"] for o in full + dflt),
          "implicit checkpoints mismatched: %s" % [o for o in full + dflt if o["mismatched"]])
    print("oracle budget: %d implicit checkpoints by default, %d with --verify=full"
          % (len(dflt), len(full)))


OP_SAMPLE = 14  # enum rlog_map_op
DUP_EVENT = 2  # enum rmap_event_type: RMAP_EV_DUP
CAUSE_EXIT = 7  # enum rmap_cause: RMAP_CAUSE_EXIT


def case_sample_quiet():
    """--sample-ms reconciles a process that makes no intercepted call:
    quietloop writes PAGES pages after its one mmap and blocks in read(2).
    The test waits (20 s at most) until SAMPLE map events for its pid,
    written by the supervisor's thread (not by quietloop: the call-time
    check is off under the supervisor), have installed them all, then
    closes its stdin; output, status and the exit oracle are as usual."""
    pages = 256
    cmd = [os.path.join(PROGS, "quietloop"), str(pages)]
    native = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=60)
    top = tempfile.mkdtemp(prefix="shimsample.")
    out_dir = os.path.join(top, "run")
    p = subprocess.Popen([RUN, "-q", "--mode", MODE, "-o", out_dir, "--sample-ms", "20",
                          "--"] + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sampled, writers, pid, nev = 0, set(), None, 0
    try:
        check(p.stdout.readline() == b"ready\n", "sample-quiet: quietloop did not start")
        deadline = time.monotonic() + 20
        while sampled < pages and time.monotonic() < deadline:
            log = shimlog.Log(os.path.join(out_dir, "events.rlog"))
            pids = log.proc_starts()
            pid = pids[0] if len(pids) == 1 else None
            ev = [e for e in log.map_events() if e["op"] == OP_SAMPLE and e["pid"] == pid]
            sampled, nev = sum(e["pages"] for e in ev), len(ev)
            writers = {e["tid"] for e in ev}
            time.sleep(0.02)  # poll interval only: the log decides
    finally:
        out, err = p.communicate(b"", timeout=60)
    check(sampled >= pages, "sample-quiet: SAMPLE events installed %d of %d pages for pid %s"
          % (sampled, pages, pid))
    check(pid not in writers, "sample-quiet: quietloop sampled itself (writers %s)" % writers)
    check(p.returncode == native.returncode and b"ready\n" + out == native.stdout,
          "sample-quiet: rc %d, stdout %r, native %r, stderr %r"
          % (p.returncode, out, native.stdout, err))
    log = shimlog.Log(os.path.join(out_dir, "events.rlog"))
    check(log.corrupt == 0 and not log.unfinished(), "sample-quiet: log incomplete")
    bad = [o for o in log.oracles() if o["mismatched"]]
    check(not bad, "sample-quiet: oracle mismatches %s" % bad)
    print("sample-quiet [%s]: %d pages installed by %d supervisor sample(s) of pid %s"
          % (MODE, sampled, nev, pid))
    shutil.rmtree(top)


def case_write_tracking():
    """Frames changed behind the shim's back (behindback: raw syscalls, as
    glibc's malloc makes them) are all seen by the write-tracked pre-fork
    reconciliation: under --verify=full a full pagemap read follows every
    tracked pass and must find nothing to change.  Also: tracking was armed
    in behindback, and the workload holds no userfaultfd (fdenv covers the
    fd table of every example)."""
    def inspect(run_dir, log):
        notes = log.notes()
        armed = [n for n in notes if n.startswith("write tracking armed")]
        missed = [n for n in notes if "write tracking missed" in n]
        check(armed, "write-tracking: never armed; notes %s" % notes)
        check(not missed, "write-tracking: %s" % missed)
        full = [o for o in log.oracles() if o["mismatched"]]
        check(not full, "write-tracking: oracle mismatches %s" % full)
    traced([os.path.join(PROGS, "behindback")], "behindback", min_compared=64,
           opts=("--verify=full",), inspect=inspect, min_checkpoints=3)
    # Off: the same run reads every page, and says nothing of tracking.
    traced([os.path.join(PROGS, "behindback")], "behindback-off", min_compared=64,
           opts=("--no-write-tracking",), min_checkpoints=3,
           inspect=lambda d, log: check(
               not [n for n in log.notes() if n.startswith("write tracking")],
               "--no-write-tracking: notes %s" % log.notes()))


def case_fork_race():
    """A thread changes frames while another forks (forkwriter): the pages
    it changed between the pre-fork reconciliation and the kernel's fork
    reach the child, and the shadow must copy them too.  --verify=full
    checks every child at its exit.  Without the post-fork repair half of
    the runs had a mismatch (shadow 1, kernel 2), so four runs."""
    for n in range(4):
        log = traced([os.path.join(PROGS, "forkwriter"), "200"], "forkwriter",
                     opts=("--verify=full",))
        bad = [o for o in log.oracles() if o["mismatched"]]
        check(not bad, "fork-race run %d: mismatches %s" % (n, bad))


def case_ownmem():
    """The shim's own memory (the reconciliation's scratch, libunwind's
    trace cache, the libraries it brings) is never in the shadow: with --events pages
    every pte the shadow installs or removes is a TRANSITION record with its
    address, and none may fall in those ranges - neither from the process's
    own reconciliations, nor from an explicit checkpoint's or the --sample-ms
    thread's on behalf of the fork child (which shares the trace cache's
    frames with its parent: shadowed on one side only, a mismatch)."""
    ranges_file = tempfile.mktemp(prefix="shimown.")
    seen = {}

    def inspect(run_dir, log):
        with open(ranges_file) as f:
            own = [(int(a, 16), int(b, 16), w) for a, b, w in (ln.split() for ln in f)]
        kinds = {w for _a, _b, w in own}
        # The trace cache is found as an anonymous vma of exactly its size: a
        # sanitizer's allocator maps anonymous memory the kernel may merge
        # with it, so there it can go unfound (and unchecked).
        want = {"scratch", "lib"} | (set() if sanruntime.RUNTIME else {"cache"})
        check(want <= kinds, "ownmem: own ranges found: %s" % own)
        trans = [struct.unpack_from("<iIHHiiIQQ", r[2]) + (r[3],)
                 for r in log.records if r[0] == "TRANSITION"]
        pids = log.proc_starts()
        inside = [(t[0], hex(t[8]), w) for t in trans for a, b, w in own if a <= t[8] < b]
        check(len(pids) == 2 and trans, "ownmem: %d processes, %d transitions"
              % (len(pids), len(trans)))
        check(not inside, "ownmem: shadow ptes in the shim's own memory: %d, first %s"
              % (len(inside), inside[:4]))
        # The child was reconciled on its behalf: by the checkpoint and the
        # sampler (ownmem waits for the sampler's, reading the log).
        child = pids[-1] if len(pids) == 2 else None
        acting = {e["tid"] for e in log.map_events() if e["pid"] == child} - {child}
        check(len(acting) >= 2, "ownmem: child %s reconciled on its behalf by %s"
              % (child, acting))
        seen.update(transitions=len(trans), on_behalf=len(acting), inside=len(inside),
                    kinds=sorted({w for _p, _a, w in inside}))
    traced([os.path.join(PROGS, "ownmem"), ranges_file], "ownmem", min_checkpoints=3,
           opts=("--events", "pages", "--sample-ms", "20"), inspect=inspect)
    os.unlink(ranges_file)
    print("ownmem: %(transitions)d transitions, %(inside)d in the shim's own memory %(kinds)s; "
          "child reconciled on its behalf by %(on_behalf)d threads" % seen)


def case_vmasilent():
    """vmas mapped and unmapped behind the shim's back between forks
    (vmasilent: raw syscalls): the pre-fork reconciliation may reuse the
    vmas it read last only if none changed (shim/vmawatch.c).  Fork 3 must
    copy the 64 pages of the vma made before it, fork 4 must not (each
    FORK record counts its page_dup_rmap calls); a reuse that missed the
    mmap gives fork 3 fork 2's count."""
    def inspect(run_dir, log):
        root = log.proc_starts()[0]
        dups = [struct.unpack_from("<iiIIIIQ", p)[6] for p in log.of("FORK")
                if struct.unpack_from("<i", p)[0] == root]
        check(len(dups) == 4, "vmasilent: %d forks of the root logged, 4 expected" % len(dups))
        check(dups[2] - dups[1] >= 64 and dups[2] - dups[3] >= 64,
              "vmasilent: page_dup_rmap per fork %s: the raw mmap's 64 pages are not "
              "in fork 3 alone" % dups)
        seen.update(dups=dups)
    seen = {}
    traced([os.path.join(PROGS, "vmasilent")], "vmasilent", inspect=inspect)
    print("vmasilent: page_dup_rmap per fork %s" % seen["dups"])

    # No pte of a vma that no fork copies (library text and read-only data)
    # is copied by the shadow fork either: every page_dup_rmap (--events
    # pages: one TRANSITION each, with its address) falls elsewhere.  The
    # shadow merged .rodata into the relro after it (equal in /proc, apart
    # in the kernel) and copied ~80 such ptes a fork.
    ranges_file = tempfile.mktemp(prefix="shimro.")

    def no_copied_text(run_dir, log):
        with open(ranges_file) as f:
            ro = [(int(a, 16), int(b, 16)) for a, b in (ln.split() for ln in f)]
        dups = [t for t in (struct.unpack_from("<iIHHiiIQQ", r[2]) for r in log.records
                            if r[0] == "TRANSITION") if t[2] == DUP_EVENT]
        inside = [hex(t[8]) for t in dups for a, b in ro if a <= t[8] < b]
        check(ro and dups, "vmasilent: %d read-only file vmas, %d dup transitions"
              % (len(ro), len(dups)))
        check(not inside, "vmasilent: the shadow fork copied %d ptes of read-only file vmas "
              "without anonymous pages, first %s" % (len(inside), inside[:4]))
        seen.update(ro=len(ro), dups=len(dups))
    traced([os.path.join(PROGS, "vmasilent"), ranges_file], "vmasilent-text",
           opts=("--events", "pages"), inspect=no_copied_text)
    os.unlink(ranges_file)
    print("vmasilent: %(dups)d ptes copied by the shadow forks, none in %(ro)d read-only "
          "file vmas" % seen)


def case_exitsites():
    """Fork children exit from call sites their parent never runs (exitsites:
    four, round robin, one with a frame larger than the warm-up's stack of
    zeroes, one through %rbp); once a child has told it the site, the parent
    warms its unwinder there (shim_stacks_warm_from).  Every child's exit
    stack (of its exit TRANSITION_AGG) must be the same frame for frame as
    the first child's that left from that site, which nothing warmed."""
    def inspect(run_dir, log):
        root = log.proc_starts()[0]
        stacks = {}
        for p in log.of("STACK"):
            pid, sid, n = struct.unpack_from("<iII", p)
            stacks[(pid, sid)] = struct.unpack_from("<%dQ" % n, p, 16)
        exits = {}
        for p in log.of("TRANSITION_AGG"):
            pid, sid, cause, op = struct.unpack_from("<iIII", p)
            if pid != root and cause == CAUSE_EXIT and op == 0:
                exits[pid] = stacks.get((pid, sid))
        check(len(exits) == 24 and all(exits.values()),
              "exitsites: %d children with an exit stack, 24 expected: %s"
              % (len(exits), sorted(exits.items())[:4]))
        by_site = collections.defaultdict(list)
        for pid in sorted(exits):
            by_site[exits[pid][0]].append(exits[pid])
        check(len(by_site) == 4 and all(len(v) == 6 for v in by_site.values()),
              "exitsites: children by exit site %s, 4 sites of 6 expected"
              % {hex(k): len(v) for k, v in by_site.items()})
        for site, got in by_site.items():
            check(len(got[0]) >= 3, "exitsites: site %x: stack %s" % (site, got[0]))
            odd = [g for g in got[1:] if g != got[0]]
            check(not odd, "exitsites: site %x: warmed children's stacks differ from the "
                  "first's:\n  %s\n  %s" % (site, [hex(i) for i in got[0]],
                                            [hex(i) for i in odd[0]] if odd else ""))
        seen.update(frames=sorted(len(v[0]) for v in by_site.values()))
    seen = {}
    traced([os.path.join(PROGS, "exitsites"), "24"], "exitsites", inspect=inspect)
    print("exitsites: 4 sites x 6 children, identical exit stacks of %s frames" % seen["frames"])


def case_threadslots():
    """200 short-lived threads, 4 at a time, each doing rmapcore work: the
    statistics slot of each goes back when it ends (returned or
    pthread_exit), so the arena's claimed slots stay near the threads
    alive at once; kept until the process exits, they were one a thread."""
    out = tempfile.mktemp(prefix="shimslots.")
    seen = {}

    def inspect(run_dir, log):
        with open(out) as f:
            claimed = f.read().strip()
        check(claimed.isdigit() and int(claimed) <= 32,
              "threadslots: %s statistics slots claimed for 200 threads, 4 alive at once"
              % claimed)
        seen["claimed"] = claimed
    traced([os.path.join(PROGS, "threadslots"), out], "threadslots", inspect=inspect)
    os.unlink(out)
    print("threadslots: %s slots claimed in the arena for 200 threads" % seen["claimed"])


def case_preload_only():
    """LD_PRELOAD + RMAPSHIM_OUT without the supervisor, and bad variables."""
    top = tempfile.mkdtemp(prefix="shimpre.")
    env = dict(os.environ, LD_PRELOAD=sanruntime.preload(LIB), RMAPSHIM_OUT=os.path.join(top, "run"),
               RMAPSHIM_MODE=MODE)
    rc, out, err = run(["sh", "-c", "echo one; /bin/echo two"], env=env)
    check(rc == 0 and out == "one\ntwo\n" and not err, "preload-only: %d %r %r" % (rc, out, err))
    log = shimlog.Log(os.path.join(top, "run", "events.rlog"))
    check(log.counts()["RUN_START"] == 1 and log.counts()["PROC_START"] >= 2,
          "preload-only: log %s" % dict(log.counts()))
    check(not log.unfinished(), "preload-only: unfinished %s" % log.unfinished())
    for var, val in (("RMAPSHIM_STACKS", "many"), ("RMAPSHIM_VERIFY", "maybe"),
                     ("RMAPSHIM_EVENTS", "all"), ("RMAPSHIM_SAMPLE_MS", "-5")):
        rc, out, err = run(["/bin/true"], env=dict(env, **{var: val}))
        check(rc == 2 and err.count("\n") == 1 and var in err,
              "bad %s=%s: rc %d, stderr %r" % (var, val, rc, err))
    shutil.rmtree(top)


def main():
    if os.environ.get("RMAPSHIM_TEST_SKIP"):
        print("skip: sanitized build: %s" % os.environ["RMAPSHIM_TEST_SKIP"])
        return SKIP
    if not os.path.exists(RUN) or not os.path.exists(LIB):
        print("skip: rmapshim-run or librmapshim.so not built")
        return SKIP
    if os.geteuid() != 0 or not os.access("/proc/kpagecount", os.R_OK):
        print("skip: the oracle needs root and /proc/kpagecount")
        return SKIP
    globals()["case_" + CASE.replace("-", "_")]()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
