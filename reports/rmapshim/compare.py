"""`rmapshim compare`: one workload under several modes, then the diff.

Each mode runs through rmapshim-run into DIR/<mode>; the runs are
sequential (they would perturb each other's timings).  Lockless runs a
second time (DIR/lockless.again) to measure the workload's own noise,
which sets the diff's tolerance.  The diff is of
locked (A) against lockless (B), plus lockless against lockless-rcu with
--all-modes.
"""

import json
import os
import subprocess
import sys

from . import diff, htmlreport, model, summary
from .model import RunError
from .symbols import Symbolizer


def bin_dir():
    return os.path.dirname(os.path.realpath(sys.argv[0]))


def runner_path():
    """rmapshim-run next to bin/rmapshim; RMAPSHIM_RUN overrides (tests)."""
    return os.environ.get("RMAPSHIM_RUN") or os.path.join(bin_dir(), "rmapshim-run")


def default_command():
    forkstorm = os.path.join(os.path.dirname(bin_dir()), "examples", "forkstorm")
    if not os.access(forkstorm, os.X_OK):
        raise RunError("no CMD given and %s is not built" % forkstorm)
    return [forkstorm]


def run_mode(runner, mode, rundir, passthrough, cmd):
    if os.path.exists(rundir):
        raise RunError("%s already exists: choose another -o" % rundir)
    argv = [runner] + passthrough + ["-o", rundir, "--mode", mode, "--"] + cmd
    print("rmapshim compare: %s" % " ".join(argv), file=sys.stderr)
    rc = subprocess.call(argv)
    if not os.path.exists(os.path.join(rundir, "events.rlog")):
        raise RunError("the %s run wrote no log (rmapshim-run exited %d)" % (mode, rc))
    return rc


def noise_probe(runner, out, passthrough, cmd, first):
    """The workload's own run-to-run noise: lockless once more, in percent,
    as (pte work noise, shadow fork-path cost noise).

    A real program's pte work varies a little between identical runs (fault-
    around, scheduling); modes are judged against twice what the workload
    itself does, and never tighter than diff's default 5%.  The shadow's
    ns/page varies far more (2x between identical runs was seen on this
    2-vCPU VM): a mode is only called cheaper beyond that spread.
    """
    rundir = os.path.join(out, "lockless.again")
    run_mode(runner, "lockless", rundir, passthrough, cmd)
    run = model.load(rundir)
    again = summary.summarize(run, Symbolizer(run))
    probe = diff.compare(first, again, "", "")
    pct = 100 * max((p["rel"] for p in probe["sums"].values()), default=0.0)
    ratio = probe["shadow_cost"]["fork"]["ratio"]
    cost_pct = 100 * (max(ratio, 1 / ratio) - 1) if ratio else None
    print("rmapshim compare: run-to-run noise of this workload: %.2f%% (pte work), %s "
          "(shadow fork ns/page)" % (pct, "%.0f%%" % cost_pct if cost_pct is not None else "n/a"),
          file=sys.stderr)
    return max(5.0, 2 * pct), cost_pct


def main(args, passthrough):
    cmd = args.cmd_argv or default_command()
    runner = runner_path()
    if not os.access(runner, os.X_OK):
        raise RunError("%s not found: build the shim first" % runner)
    out = args.out or "rmapshim.compare.%d" % os.getpid()
    os.makedirs(out, exist_ok=True)
    modes = ["locked", "lockless"] + (["lockless-rcu"] if args.all_modes else [])
    summaries = {}
    for mode in modes:
        rundir = os.path.join(out, mode)
        run_mode(runner, mode, rundir, passthrough, cmd)
        run = model.load(rundir)
        sym = Symbolizer(run)
        summaries[mode] = summary.summarize(run, sym)
        html = os.path.join(out, mode + ".html")
        htmlreport.write(html, run, summaries[mode], sym)
        summaries[mode]["html"] = html
    noise, cost_noise = noise_probe(runner, out, passthrough, cmd, summaries["lockless"])
    pairs = [("locked", "lockless")] + ([("lockless", "lockless-rcu")] if args.all_modes else [])
    for a, b in pairs:
        d = diff.compare(summaries[a], summaries[b], os.path.join(out, a), os.path.join(out, b),
                         noise, cost_noise)
        if args.json:
            json.dump(d, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(diff.render(d))
    if not args.json:
        print("\nHTML reports:")
        for mode in modes:
            print("  %s" % summaries[mode]["html"])
    return 0
