"""The `rmapshim` command line: run, report, diff, compare, export, parse.

Every failure a user can cause (a wrong directory, a damaged log, a bad
option) ends in one line on stderr and exit status 2; anything else is
caught at the top as one "internal error" line, never a traceback.
"""

import argparse
import json
import os
import sys

from .model import RunError

EXIT_USAGE = 2

MAIN_DESC = """\
rmapshim traces the reverse map (rmap) of Linux 2.6.8/2.6.9 on a real
program: librmapshim.so is preloaded into the program and every process it
forks or execs, drives a shadow rmap in locked, lockless or lockless-rcu
mode, and logs every mapcount transition, lock wait and race window.  These
subcommands run a program under the shim and read what it logged."""

MAIN_EPILOG = """\
typical session:
  rmapshim run -o /tmp/fs -- build/examples/forkstorm -n 100
  rmapshim report /tmp/fs
  rmapshim compare -o /tmp/cmp -- build/examples/forkstorm -n 100
  rmapshim export /tmp/fs --format perfetto -o fs.pftrace

Run `rmapshim SUBCOMMAND --help` for each subcommand's manual."""


class Parser(argparse.ArgumentParser):
    """argparse that fails with exit status 2 and one line (it does already;
    this keeps the usage dump short)."""

    def error(self, message):
        self.exit(EXIT_USAGE, "rmapshim %s: %s (see --help)\n" % (self.prog.split()[-1], message))


def fail(msg):
    raise RunError(msg)


def sub(subs, name, help_, desc, epilog):
    return subs.add_parser(name, help=help_, description=desc, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser():
    p = Parser(prog="rmapshim", description=MAIN_DESC, epilog=MAIN_EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = p.add_subparsers(dest="cmd", metavar="SUBCOMMAND", parser_class=Parser)

    sub(subs, "run", "run a program under the shim (options: rmapshim run --help)",
        "Run CMD under librmapshim.so and write a run directory.  Handled by\n"
        "rmapshim-run, next to this program; `rmapshim run --help` shows its options.",
        "example:\n  rmapshim run -o /tmp/fs --mode locked -- build/examples/forkstorm")

    r = sub(subs, "report", "summarize one run",
            "Summarize the run in DIR: command, mode, processes; transitions by kind\n"
            "and cause; nr_mapped peak and final; top call sites (symbolized with\n"
            "rmapshim-symbolize, cached in DIR/symbols.cache.json); the process tree;\n"
            "lock_stat-style lock table; race windows; checker violations; the\n"
            "/proc/kpagecount oracle; and the log's integrity.  A run that was killed\n"
            "is reported from what it logged and flagged INCOMPLETE.",
            "output:\n  default   text on stdout\n"
            "  --json    the schema of docs/report-schema.md on stdout\n"
            "  --html F  one self-contained HTML file (plots, sortable tables, flame graph)\n\n"
            "examples:\n  rmapshim report rmapshim.forkstorm.1234\n"
            "  rmapshim report --json DIR | jq .transitions\n"
            "  rmapshim report --html fs.html DIR\n\n"
            "exit status: 0 on success, 2 if DIR is not a readable run directory.")
    r.add_argument("dir", metavar="DIR", help="run directory (contains events.rlog)")
    r.add_argument("--json", action="store_true", help="print the JSON report")
    r.add_argument("--html", metavar="FILE", help="also write an HTML report to FILE")
    r.add_argument("--no-symbols", action="store_true", help="do not symbolize stacks")

    d = sub(subs, "diff", "compare two runs of one workload",
            "Put runs A and B side by side: transitions by kind and cause (a\n"
            "deterministic workload must match exactly; otherwise the deltas and\n"
            "whether they are within noise), shadow rmap cost per page on the fork\n"
            "and exit paths and their ratio, lock classes, wall time; then a\n"
            "one-line verdict.",
            "examples:\n  rmapshim diff /tmp/cmp/locked /tmp/cmp/lockless\n"
            "  rmapshim diff --json A B\n  rmapshim diff --html d.html A B\n\n"
            "--noise PCT: relative delta per transition kind below which differing\n"
            "counts are called noise (default 5%%; deltas of 16 or fewer always are).\n"
            "Under the shim, forkstorm varies by about 2%% from run to run in one mode.")
    d.add_argument("a", metavar="A")
    d.add_argument("b", metavar="B")
    d.add_argument("--json", action="store_true")
    d.add_argument("--html", metavar="FILE")
    d.add_argument("--noise", type=float, default=5.0, metavar="PCT")

    c = sub(subs, "compare", "run a program in several modes and diff",
            "Run CMD under rmapshim-run in locked and lockless mode (and\n"
            "lockless-rcu with --all-modes), each into its own directory under -o,\n"
            "then print the diff of locked against lockless and write an HTML report\n"
            "per run.  Without CMD the bundled examples/forkstorm is traced.  Options\n"
            "not listed here are passed to every `rmapshim run` unchanged.",
            "examples:\n  rmapshim compare\n"
            "  rmapshim compare -o /tmp/cmp --all-modes -- make -j2\n"
            "  rmapshim compare -o /tmp/cmp --stacks 8 -- build/examples/cowstorm")
    c.add_argument("-o", dest="out", metavar="DIR", help="parent directory of the runs "
                   "(default rmapshim.compare.<pid>)")
    c.add_argument("--all-modes", action="store_true", help="also run lockless-rcu")
    c.add_argument("--json", action="store_true", help="print the diff as JSON")

    e = sub(subs, "export", "convert a run for other tools",
            "Write the run in DIR in another format:\n"
            "  perfetto  protobuf trace for ui.perfetto.dev: a track per process,\n"
            "            fork/exec/exit instants, nr_mapped and transition counters,\n"
            "            lock waits as slices\n"
            "  chrome    Chrome trace-event JSON (chrome://tracing; small runs)\n"
            "  folded    'frame;frame;frame count' lines for flamegraph.pl/speedscope\n"
            "  sqlite    an SQLite database (tables in docs/reports.md)",
            "examples:\n  rmapshim export DIR --format perfetto -o run.pftrace\n"
            "  rmapshim export DIR --format folded -o run.folded && flamegraph.pl run.folded\n"
            "  rmapshim export DIR --format sqlite -o run.db")
    e.add_argument("dir", metavar="DIR")
    e.add_argument("--format", required=True, choices=["perfetto", "chrome", "folded", "sqlite"])
    e.add_argument("-o", dest="out", required=True, metavar="FILE")

    pa = sub(subs, "parse", "print every record of a log",
             "Print every record of DIR/events.rlog on one line, in sequence order:\n"
             "seq, time since start, pid/tid, type and fields.  For debugging the\n"
             "shim and the log format; damage is summarized at the end.",
             "example:\n  rmapshim parse DIR | grep FORK")
    pa.add_argument("dir", metavar="DIR")
    return p


def cmd_run(argv):
    from .compare import runner_path
    runner = runner_path()
    if not os.access(runner, os.X_OK):
        fail("%s not found: build the shim (cmake --build ...)" % runner)
    os.execv(runner, [runner] + argv)


def cmd_report(args):
    from . import model, summary, symbols, textreport
    run = model.load(args.dir)
    sym = symbols.Symbolizer(run)
    if args.no_symbols:
        sym.helper = None
    s = summary.summarize(run, sym)
    if args.html:
        from . import htmlreport
        htmlreport.write(args.html, run, s, sym)
    if args.json:
        json.dump(s, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(textreport.render(s, args.dir))
        if args.html:
            print("\nHTML report: %s" % args.html)
    return 0


def cmd_diff(args):
    from . import diff
    return diff.main(args.a, args.b, as_json=args.json, html=args.html, noise=args.noise)


def cmd_compare(args, passthrough):
    from . import compare
    return compare.main(args, passthrough)


def cmd_export(args):
    from . import export, model
    run = model.load(args.dir)
    n = export.write(run, args.format, args.out)
    print("rmapshim: wrote %s (%s, %d events)" % (args.out, args.format, n))
    return 0


def cmd_parse(args):
    from . import parse
    return parse.main(args.dir)


def dispatch(argv):
    if argv and argv[0] == "run":
        return cmd_run(argv[1:])
    parser = build_parser()
    if argv and argv[0] == "compare":
        # CMD follows "--"; unknown options before it belong to rmapshim run.
        cut = argv.index("--") if "--" in argv else len(argv)
        args, passthrough = parser.parse_known_args(argv[:cut])
        args.cmd_argv = argv[cut + 1:]
        return cmd_compare(args, passthrough)
    args = parser.parse_args(argv)
    if not args.cmd:
        parser.print_help()
        return EXIT_USAGE
    return {"report": cmd_report, "diff": cmd_diff, "export": cmd_export,
            "parse": cmd_parse}[args.cmd](args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        return dispatch(argv)
    except RunError as e:
        sys.stderr.write("rmapshim: %s\n" % e)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `rmapshim parse DIR | head`: not an error.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except OSError as e:
        sys.stderr.write("rmapshim: %s%s\n" % (e.strerror or e,
                                              ": %s" % e.filename if e.filename else ""))
        return EXIT_USAGE
    except Exception as e:  # the last resort: one line, never a traceback
        sys.stderr.write("rmapshim: internal error: %s: %s\n" % (type(e).__name__, e))
        return 1
