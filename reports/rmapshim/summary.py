"""The report as one plain dict: the stable JSON schema of
docs/report-schema.md.  The terminal and HTML renderers and `diff` read
this dict, never the Run directly, so all of them say the same thing."""

from collections import Counter

from . import abi
from .symbols import Symbolizer, frame_name, frame_text

SCHEMA = "rmapshim-report/1"
TOP_SITES = 10
SHIM_MODULE = "librmapshim.so"


def _avg(total, n):
    return round(total / n, 1) if n else 0


def user_frames(frames):
    """Drop the shim's own frames from the top: the call site is the first
    frame of the program."""
    i = 0
    while i < len(frames) - 1 and frames[i].get("module") == SHIM_MODULE:
        i += 1
    return frames[i:]


def run_section(run):
    s = run.start
    return {
        "command": run.command,
        "argv": list(s.argv) if s else [],
        "cwd": s.cwd if s else None,
        "mode": run.mode,
        "exit_status": run.end.exit_status if run.end else None,
        "duration_ns": run.end.duration_ns if run.end else run.last_ts,
        "processes": run.end.processes if run.end else len(run.processes),
        "complete": run.complete,
        "events": abi.name_of(abi.EVENTS_OPTION, s.events) if s else None,
        "verify": abi.name_of(abi.VERIFY_OPTION, s.verify) if s else None,
        "pfn_access": bool(s.pfn_access) if s else None,
        "perturb_seed": s.perturb_seed if s else 0,
        "reclaim_rate": s.reclaim_rate if s else 0,
        "enospc": run.end.enospc if run.end else None,
        "reaped": run.end.reaped if run.end else None,
        "locks_broken": run.end.locks_broken if run.end else None,
    }


def transitions_section(run):
    total = run.transitions()
    trans = {k: total.get(k, 0) for k in abi.TRANSITION_KINDS}
    by_cause = {}
    for c in abi.CAUSES:
        kinds = run.by_cause.get(c, {})
        row = {k: kinds.get(k, 0) for k in abi.TRANSITION_KINDS}
        row["total"] = sum(row.values())
        if c != "none" or row["total"]:
            by_cause[c] = row
    return trans, by_cause


def lock_rows(run):
    rows = []
    for cls in sorted(run.locks):
        lc = run.locks[cls]
        if not lc.acquisitions and not lc.contentions:
            continue        # a class this mode never takes (PG_maplock when lockless)
        rows.append({
            "class": lc.name, "acquisitions": lc.acquisitions, "contentions": lc.contentions,
            "waittime_min_ns": lc.waittime_min, "waittime_avg_ns": _avg(lc.waittime_total, lc.contentions),
            "waittime_max_ns": lc.waittime_max, "waittime_total_ns": lc.waittime_total,
            "holdtime_min_ns": lc.holdtime_min, "holdtime_avg_ns": _avg(lc.holdtime_total, lc.acquisitions),
            "holdtime_max_ns": lc.holdtime_max, "holdtime_total_ns": lc.holdtime_total,
            "owner_changes": lc.owner_changes, "trylock_failures": lc.trylock_failures,
            "contention_sites": [{"site": abi.lock_site_name(s), "contentions": n}
                                 for s, n in lc.sites.most_common(4)],
        })
    return rows


def lock_wait_sites(run, sym):
    """Top stacks of the logged lock waits (above the shim's threshold)."""
    agg = {}
    for _, _, w in run.lock_waits:
        key = (w.pid, w.stack, w.lock_class)
        n, tot, mx, _ = agg.get(key, (0, 0, 0, 0))
        agg[key] = (n + 1, tot + w.wait_ns, max(mx, w.wait_ns), w.site)
    top = sorted(agg.items(), key=lambda kv: -kv[1][1])[:TOP_SITES]
    return [{"class": abi.lock_class_name(cls), "site": abi.lock_site_name(site), "waits": n,
             "wait_total_ns": tot, "wait_max_ns": mx,
             "frames": user_frames(sym.stack(pid, sid)) if sid else []}
            for (pid, sid, cls), (n, tot, mx, site) in top]


def _site(sym, pid, sid):
    frames = user_frames(sym.stack(pid, sid)) if sid else []
    return frame_text(frames[0]) if frames else None


def _race_example(sym, tid, r):
    # a log before the race detail names no other pid: its stack id is ours
    other_site = _site(sym, r.other_pid or r.pid, r.other_stack)
    return {"race": abi.name_of(abi.RACES, r.race),
            "outcome": abi.name_of(abi.RACE_OUTCOMES, r.outcome),
            "frame": r.frame, "pid": r.pid, "tid": tid, "stack": r.stack,
            "other_stack": r.other_stack, "cause": abi.cause_name(r.cause),
            "site": _site(sym, r.pid, r.stack), "other_site": other_site,
            "other": {"pid": r.other_pid, "tid": r.other_tid, "stack": r.other_stack,
                      "cause": abi.cause_name(r.other_cause) if r.other_tid else None,
                      "operation": abi.WINDOW_OPS.get(r.other_window),
                      "site": other_site}}


def race_rows(run, sym):
    sym.prefetch([(pid, sid) for w in run.races.values() for _, r in w.examples
                  for pid, sid in ((r.pid, r.stack), (r.other_pid or r.pid, r.other_stack))
                  if sid])
    rows = []
    for name in sorted(run.races, key=_race_order):
        w = run.races[name]
        row = {"window": name, "hits": w.hits,
               "outcomes": {o: w.outcomes.get(o, 0) for o in abi.RACE_OUTCOMES},
               "examples": [_race_example(sym, tid, r) for tid, r in w.examples]}
        if name == abi.R9_WINDOW:
            row["reused"] = w.reused
            row["freed_memory"] = w.freed_memory
        rows.append(row)
    return rows


def _race_order(name):
    num = name[1:].split("_", 1)[0]
    return (int(num) if num.isdigit() else 99, name)


def oracle_section(run):
    ors = [r for _, r in run.oracles]
    o = {"checkpoints": len(ors)}
    for f in ("compared", "agreed", "mismatched", "not_compared"):
        o[f] = sum(getattr(r, f) for r in ors)
    o["agreement"] = round(o["agreed"] / o["compared"], 6) if o["compared"] else None
    o["first_mismatches"] = [{"label": r.label, "pid": r.pid, "frame": fr, "shadow": sh,
                              "kernel": k} for r in ors for fr, sh, k in r.mismatches][:8]
    return o


def process_rows(run):
    return [{"pid": p.pid, "ppid": p.ppid, "exe": p.exe, "how": abi.name_of(abi.PROC_HOW, p.how),
             "start_ns": p.start_ns, "end_ns": p.end_ns, "exit_status": p.status,
             "exit_how": abi.name_of(abi.EXIT_HOW, p.exit_how) if p.exit_how is not None else None,
             "execs": [e for _, e in p.execs], "children": sorted(p.children),
             "transitions": p.transitions}
            for p in sorted(run.processes.values(), key=lambda p: (p.start_ns, p.pid))]


def top_sites(run, sym, candidates=5000):
    """The top call sites, merged by symbolized frames: each process logs
    its own stack ids, so the same site shows up under many (pid, id)."""
    keys = run.site_transitions.most_common(candidates)
    sym.prefetch([k for k, _ in keys])
    merged = {}
    for (pid, sid), n in keys:
        frames = user_frames(sym.stack(pid, sid))
        ident = tuple((frame_name(f), f.get("file"), f.get("line")) for f in frames) or (sid,)
        row = merged.get(ident)
        if row is None:
            merged[ident] = row = {"pid": pid, "stack": sid, "transitions": 0, "processes": 0,
                                   "frames": frames,
                                   "site": frame_name(frames[0]) if frames else "?"}
        row["transitions"] += n
        row["processes"] += 1
    return sorted(merged.values(), key=lambda r: -r["transitions"])[:TOP_SITES]


def log_vs_arena(run):
    """Per kind, where the log's records and the arena's own totals (the
    end record) disagree: records lost or never written.  None without an
    end record."""
    if not run.end:
        return None
    logged = Counter()
    for kinds in run.logged.values():
        logged.update(kinds)
    arena = run.transitions()
    # Only the transitions are logged in full; race and vmscan events are
    # sampled by design.
    return {k: {"arena": arena.get(k, 0), "logged": logged.get(k, 0)}
            for k in abi.TRANSITION_KINDS if arena.get(k, 0) != logged.get(k, 0)}


# lock_stat's column order: (header, key of a `locks` entry).
LOCK_COLUMNS = [("class", "class"), ("acquisitions", "acquisitions"),
                ("contentions", "contentions"), ("waittime-min", "waittime_min_ns"),
                ("waittime-avg", "waittime_avg_ns"), ("waittime-max", "waittime_max_ns"),
                ("waittime-total", "waittime_total_ns"), ("holdtime-min", "holdtime_min_ns"),
                ("holdtime-avg", "holdtime_avg_ns"), ("holdtime-max", "holdtime_max_ns"),
                ("holdtime-total", "holdtime_total_ns"), ("owner-changes", "owner_changes")]


def lock_table(s):
    """(headers, rows) of the lock table, for every renderer."""
    return ([h for h, _ in LOCK_COLUMNS],
            [[l[k] for _, k in LOCK_COLUMNS] for l in s["locks"]])


def transition_table(s, every_kind=False):
    """(headers, rows): kinds by cause, only the causes that occurred."""
    causes = [c for c, row in s["by_cause"].items() if row["total"]]
    rows = [[k, n] + [s["by_cause"][c][k] for c in causes] for k, n in s["transitions"].items()
            if every_kind or n or k in ("map_first", "unmap_last")]
    return ["kind", "total"] + causes, rows


def summarize(run, sym=None):
    sym = sym or Symbolizer(run)
    sym.prefetch(list({(w.pid, w.stack) for _, _, w in run.lock_waits if w.stack}))
    trans, by_cause = transitions_section(run)
    peak, final, peak_logged, peak_arena = run.nr_mapped()
    fork_pp, exit_pp = run.shadow_cost()
    integ = run.log.integrity
    unfinished = run.unfinished()
    recorded_violations = run.end.violations if run.end else 0
    return {
        "schema": SCHEMA,
        "run": run_section(run),
        "transitions": trans,
        "by_cause": by_cause,
        "nr_mapped": {"peak": peak, "final": final, "peak_logged": peak_logged,
                      "peak_arena": peak_arena},
        "top_sites": top_sites(run, sym),
        "processes": process_rows(run),
        "locks": lock_rows(run),
        "lock_waits": lock_wait_sites(run, sym),
        "races": race_rows(run, sym),
        "violations": max(recorded_violations, len(run.violations)),
        "violation_details": [{"pid": v.pid, "inv": v.inv, "frame": v.frame, "vaddr": v.vaddr,
                               "expected": v.expected, "found": v.found, "what": v.what}
                              for v in run.violations[:20]],
        "oracle": oracle_section(run),
        "integrity": {"records": integ.records, "corrupt": integ.corrupt + run.undecodable,
                      "torn_segments": integ.torn_segments, "truncated": integ.truncated,
                      "unfinished_processes": len(unfinished), "unfinished_pids": unfinished,
                      "log_full": integ.log_full, "log_full_at_ns": integ.full_at_ns,
                      "log_vs_arena": log_vs_arena(run),
                      "dropped": integ.dropped, "seq_gaps": integ.seq_gaps,
                      "complete": run.complete},
        "shadow_cost": {"fork_ns_per_page": fork_pp, "exit_ns_per_page": exit_pp,
                        "fork_pages": sum(f.pages for f in run.forks),
                        "exit_pages": sum(e.pages for e in run.exits)},
        "map_ops": dict(run.map_ops),
        "notes": [{"ts_ns": ts, "pid": n.pid, "level": abi.name_of(abi.NOTE_LEVELS, n.level),
                   "text": n.text} for ts, n in run.notes],
    }
