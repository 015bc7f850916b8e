"""One traced run as Python objects, built from its log in one pass.

Totals come from RUN_END (the arena's own counters) when the run ended
cleanly; otherwise they are rebuilt from TRANSITION/TRANSITION_AGG records
and the run is marked incomplete.  Everything time-stamped is kept
relative to the log's t0 (CLOCK_MONOTONIC at run start).
"""

import os
from collections import Counter, defaultdict

from . import abi
from .abi import T
from .logread import Log
from .records import decode, TRANSITION, REC_HDR_SIZE


class RunError(Exception):
    """A directory that cannot be reported on: one line for the user."""


class Process:
    def __init__(self, pid, ppid, exe, how, ts):
        self.pid, self.ppid, self.exe, self.how = pid, ppid, exe, how
        self.start_ns = ts
        self.end_ns = None
        self.status = None
        self.exit_how = None
        self.execs = []          # (ts, exe) of later images
        self.children = []
        self.transitions = 0


class LockClass:
    FIELDS = ("acquisitions", "contentions", "waittime_min", "waittime_max",
              "waittime_total", "holdtime_min", "holdtime_max", "holdtime_total",
              "owner_changes", "trylock_failures")

    def __init__(self, cls):
        self.cls = cls
        self.name = abi.lock_class_name(cls)
        for f in self.FIELDS:
            setattr(self, f, 0)
        self.sites = Counter()

    def add(self, rec):
        """Fold in one RLOG_LOCKSTAT (mins and maxes combine, the rest sums)."""
        for f in self.FIELDS:
            v = getattr(rec, f)
            if f.endswith("_min"):
                cur = getattr(self, f)
                v = min(cur, v) if cur and v else (cur or v)
            elif f.endswith("_max"):
                v = max(getattr(self, f), v)
            else:
                v += getattr(self, f)
            setattr(self, f, v)
        for site, n in enumerate(rec.site_contentions):
            if n:
                self.sites[site] += n


class RaceWindow:
    def __init__(self, name):
        self.name = name
        self.hits = 0
        self.outcomes = Counter()
        self.reused = 0
        self.freed_memory = 0
        self.examples = []       # (tid, Race), the first few logged hits
        self.logged = Counter()  # RACE records per enum rmap_race
        self.outcome_of = {}     # enum rmap_race -> outcome name its records gave


class Run:
    def __init__(self, rundir):
        self.dir = rundir
        self.start = None
        self.end = None
        self.processes = {}
        self.forks = []
        self.exits = []
        self.lifecycle = []                      # (ts, pid, "fork"|"exec"|"exit", detail)
        self.by_cause = defaultdict(Counter)     # cause name -> Counter(kind)
        self.logged = defaultdict(Counter)       # rebuilt from records
        self.site_transitions = Counter()        # (pid, stack id) -> count
        self.stacks = {}                         # (pid, id) -> frames
        self.modules = defaultdict(list)         # pid -> [Modules]
        self.nr_mapped_series = []               # (ts, nr_mapped)
        self.rate_points = []                    # (ts, mapcount transitions)
        self.max_mapcount = {}                   # frame -> highest mapcount seen
        self.locks = {}
        self.proc_locks = {}
        self.lock_waits = []                     # (ts, tid, LockWait)
        self.races = {}
        self.violations = []
        self.oracles = []
        self.notes = []
        self.map_ops = Counter()
        self.undecodable = 0
        self.last_ts = 0

    # ---- derived values ----
    @property
    def complete(self):
        return self.end is not None

    @property
    def mode(self):
        return abi.mode_name(self.start.mode) if self.start else "unknown"

    @property
    def command(self):
        return " ".join(self.start.argv) if self.start else ""

    def transitions(self):
        """Counter(kind) over every cause."""
        total = Counter()
        for kinds in self.by_cause.values():
            total.update(kinds)
        return total

    def nr_mapped(self):
        """(peak, final, peak from the log's series, peak the arena kept)."""
        vals = [v for _, v in self.nr_mapped_series]
        logged = max(vals) if vals else 0
        if self.end:
            return (max(self.end.nr_mapped_peak, logged), self.end.nr_mapped_final, logged,
                    self.end.nr_mapped_peak)
        return logged, (vals[-1] if vals else 0), logged, None

    def unfinished(self):
        return sorted(p.pid for p in self.processes.values() if p.end_ns is None)

    def shadow_cost(self):
        # The page-weighted median of each operation's ns/page, not sum/sum:
        # one fork preempted on a loaded machine would otherwise decide it.
        def per_page(items):
            items = sorted((i for i in items if i.pages), key=lambda i: i.rmap_ns / i.pages)
            half, seen = sum(i.pages for i in items) / 2, 0
            for i in items:
                seen += i.pages
                if seen >= half:
                    return round(i.rmap_ns / i.pages, 3)
            return None
        return per_page(self.forks), per_page([e for e in self.exits if e.pages])

    def stack_of(self, pid, sid):
        """Frames of stack @sid as seen by @pid: a forked child inherits its
        parent's stack table, so look up the ancestry."""
        seen = set()
        while pid and pid not in seen:
            fr = self.stacks.get((pid, sid))
            if fr is not None:
                return pid, fr
            seen.add(pid)
            p = self.processes.get(pid)
            pid = p.ppid if p else 0
        return None, None


def load(rundir):
    """Read @rundir into a Run; RunError if it is not a usable run directory."""
    if not os.path.isdir(rundir):
        raise RunError("%s: no such directory" % rundir)
    path = os.path.join(rundir, "events.rlog")
    if not os.path.exists(path):
        raise RunError("%s: not an rmapshim run directory (no events.rlog)" % rundir)
    log = Log(path)
    if log.error:
        raise RunError("%s: %s" % (path, log.error))
    run = Run(rundir)
    run.log = log
    _Builder(run, log).build()
    return run


class _Builder:
    def __init__(self, run, log):
        self.run = run
        self.log = log
        self.t0 = log.header["t0_monotonic_ns"]
        self.tid = 0
        self.kind_counts = Counter()            # (cause, type) -> logged transitions
        self.pid_counts = Counter()             # pid -> logged transitions
        self.handlers = {
            T["RUN_START"]: self.run_start, T["PROC_START"]: self.proc_start,
            T["FORK"]: self.fork, T["EXEC"]: self.exec_, T["EXIT"]: self.exit,
            T["MODULES"]: self.modules, T["STACK"]: self.stack,
            T["MAP_EVENT"]: self.map_event, T["TRANSITION_AGG"]: self.transition_agg,
            T["LOCK_WAIT"]: self.lock_wait, T["LOCKSTAT"]: self.lockstat,
            T["ORACLE"]: self.oracle, T["RACE"]: self.race,
            T["VIOLATION"]: self.violation, T["NOTE"]: self.note,
            T["RUN_END"]: self.run_end,
        }

    def build(self):
        self._scan()
        self._finish()

    def _scan(self):
        """One pass; TRANSITION records, the bulk of a log, are decoded inline."""
        run, buf = self.run, self.log.buf
        tr_type = T["TRANSITION"]
        tr_struct = TRANSITION[0]
        tr_unpack, tr_len = tr_struct.unpack_from, REC_HDR_SIZE + tr_struct.size
        map_first, unmap_last = abi.EV["map_first"], abi.EV["unmap_last"]
        kinds, pids, sites = self.kind_counts, self.pid_counts, run.site_transitions
        rate, series = run.rate_points.append, run.nr_mapped_series.append
        max_mc = run.max_mapcount
        t0, handlers = self.t0, self.handlers
        nr = 0
        for rec in self.log.records():
            ts = rec[2] - t0
            if rec[1] == tr_type and rec[6] >= tr_len:
                pid, _mm, typ, cause, _old, new, stack, frame, _va = tr_unpack(buf, rec[5] + 32)
                kinds[(cause, typ)] += 1
                pids[pid] += 1
                if stack:
                    sites[(pid, stack)] += 1
                if typ <= unmap_last:       # the kinds that change page_mapcount
                    rate((ts, 1))
                if typ == map_first:
                    nr += 1
                    series((ts, nr))
                elif typ == unmap_last:
                    nr -= 1
                    series((ts, nr))
                if new > max_mc.get(frame, 0):
                    max_mc[frame] = new
                continue
            self.tid = rec[3]
            payload = decode(buf, rec)
            handler = handlers.get(rec[1])
            if payload is None or handler is None:
                run.undecodable += 1
                continue
            handler(ts, payload)

    def _finish(self):
        run = self.run
        for (cause, typ), n in self.kind_counts.items():
            run.logged[abi.cause_name(cause)][abi.event_name(typ)] += n
        for pid, n in self.pid_counts.items():
            if pid in run.processes:
                run.processes[pid].transitions += n
        if run.end:
            for t, per_cause in enumerate(run.end.events):
                for c, n in enumerate(per_cause):
                    if n and 0 < t < len(abi.EVENT_TYPES):
                        run.by_cause[abi.cause_name(c)][abi.event_name(t)] = n
        else:
            run.by_cause = run.logged
            for w in run.races.values():
                w.hits = sum(w.logged.values())
                for race, n in w.logged.items():
                    w.outcomes[w.outcome_of[race]] += n
                w.reused = w.logged[abi.RACE_R9_REUSED]
                w.freed_memory = w.logged[abi.RACE_R9_FREED]
        if not run.locks:
            # No whole-run snapshot (killed run): the per-process ones add up.
            run.locks = run.proc_locks
        run.last_ts = max(run.last_ts, self.log.records()[-1][2] - self.t0
                          if self.log.records() else 0)

    def proc(self, pid):
        return self.run.processes.get(pid)

    # ---- one handler per record type ----
    def run_start(self, ts, r):
        self.run.start = r

    def proc_start(self, ts, r):
        p = Process(r.pid, r.ppid, r.exe, r.how, ts)
        self.run.processes[r.pid] = p
        parent = self.proc(r.ppid)
        if parent and r.pid not in parent.children:
            parent.children.append(r.pid)

    def exec_(self, ts, r):
        p = self.proc(r.pid)
        self.run.lifecycle.append((ts, r.pid, "exec", r.exe))
        if p is None:
            self.proc_start(ts, r)
        else:
            p.execs.append((ts, r.exe))

    def fork(self, ts, r):
        self.run.forks.append(r)
        self.run.lifecycle.append((ts, r.parent_pid, "fork", "child %d" % r.child_pid))
        parent = self.proc(r.parent_pid)
        if parent and r.child_pid not in parent.children:
            parent.children.append(r.child_pid)

    def exit(self, ts, r):
        self.run.last_ts = max(self.run.last_ts, ts)
        if r.how == abi.EXIT_EXEC:
            return          # an exec ends an image, not the process
        self.run.exits.append(r)
        self.run.lifecycle.append((ts, r.pid, "exit", "status %d" % r.status))
        p = self.proc(r.pid)
        if p:
            p.end_ns, p.status, p.exit_how = ts, r.status, r.how

    def modules(self, ts, r):
        self.run.modules[r.pid].append(r)

    def stack(self, ts, r):
        self.run.stacks[(r.pid, r.id)] = r.frames

    def map_event(self, ts, r):
        self.run.map_ops[abi.name_of(abi.MAP_OPS, r.op)] += 1

    def transition_agg(self, ts, r):
        for typ, n in enumerate(r.counts):
            if n and typ:
                self.kind_counts[(r.cause, typ)] += n
                self.pid_counts[r.pid] += n
                if r.stack:
                    self.run.site_transitions[(r.pid, r.stack)] += n
                if abi.event_name(typ) in abi.MAPCOUNT_KINDS:
                    self.run.rate_points.append((ts, n))

    def lock_wait(self, ts, r):
        self.run.lock_waits.append((ts, self.tid, r))

    def lockstat(self, ts, r):
        table = self.run.locks if r.pid == 0 else self.run.proc_locks
        if r.pid == 0 and r.lock_class in table:
            # A later whole-run snapshot supersedes an earlier one.
            del table[r.lock_class]
        lc = table.setdefault(r.lock_class, LockClass(r.lock_class))
        lc.add(r)

    def oracle(self, ts, r):
        self.run.oracles.append((ts, r))

    def window(self, race):
        name = abi.race_window(race)
        return self.run.races.setdefault(name, RaceWindow(name))

    def race(self, ts, r):
        w = self.window(r.race)
        w.outcome_of[r.race] = abi.name_of(abi.RACE_OUTCOMES, r.outcome)
        w.logged[r.race] += 1
        if len(w.examples) < abi.RACE_DETAILS:
            w.examples.append((self.tid, r))

    def violation(self, ts, r):
        self.run.violations.append(r)

    def note(self, ts, r):
        self.run.notes.append((ts, r))

    def run_end(self, ts, r):
        run = self.run
        run.end = r
        for race, n in enumerate(r.races):
            if n and race:
                w = self.window(race)
                w.hits += n
                # one outcome per race and mode: the logged hits classify all
                if race in w.outcome_of:
                    w.outcomes[w.outcome_of[race]] += n
                if race == abi.RACE_R9_REUSED:
                    w.reused += n
                elif race == abi.RACE_R9_FREED:
                    w.freed_memory += n

