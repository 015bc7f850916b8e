"""`rmapshim report DIR` on a terminal: the summary dict as text."""

from collections import Counter

from .summary import lock_table, transition_table
from .symbols import frame_text


def fmt_ns(ns):
    if ns is None:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= div:
            return "%.3g %s" % (ns / div, unit)
    return "%d ns" % ns


def table(headers, rows):
    """Plain columns: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.append("  " + "  ".join(parts).rstrip())
    return out


def section(title):
    return ["", title, "-" * len(title)]


def run_lines(s, rundir):
    r = s["run"]
    out = ["rmapshim report: %s" % rundir,
           "  command     %s" % (r["command"] or "?"),
           "  mode        %-14s processes %-6s duration %-10s exit status %s" % (
               r["mode"], r["processes"], fmt_ns(r["duration_ns"]),
               "-" if r["exit_status"] is None else r["exit_status"])]
    if not r["complete"]:
        out.append("  INCOMPLETE: the run ended without its end record (killed?); %d "
                   "process(es) never exited; totals are rebuilt from the records logged."
                   % s["integrity"]["unfinished_processes"])
    if r["pfn_access"] is False:
        out.append("  NOTE: no PFN access: page identity approximated (not root).")
    return out


def transition_lines(s):
    out = section("Transitions by kind and cause")
    out += table(*transition_table(s))
    nm = s["nr_mapped"]
    verdict = ""
    if s["integrity"]["unfinished_processes"] == 0 and s["run"]["complete"]:
        verdict = "  (ok: every process exited)" if nm["final"] == 0 else \
            "  (WRONG: should be 0, every process exited)"
    out.append("  nr_mapped   peak %d   final %d%s" % (nm["peak"], nm["final"], verdict))
    return out


def site_lines(s):
    if not s["top_sites"]:
        return []
    out = section("Top call sites by transitions")
    for site in s["top_sites"]:
        frames = site["frames"]
        where = "pid %d" % site["pid"] if site["processes"] == 1 else \
            "%d processes" % site["processes"]
        out.append("  %10d  %s   [%s]" % (site["transitions"],
                                         frame_text(frames[0]) if frames else "?", where))
        for f in frames[1:4]:
            out.append("              <- %s" % frame_text(f))
    return out


def tree_lines(s):
    procs = {p["pid"]: p for p in s["processes"]}
    if not procs:
        return []
    out = section("Process tree")
    roots = [p for p in s["processes"] if p["ppid"] not in procs]

    def label(p):
        exe = p["exe"].rsplit("/", 1)[-1]
        st = "running at end" if p["end_ns"] is None else "exit %s%s" % (
            p["exit_status"], "" if p["exit_how"] in ("exit", None) else " (%s)" % p["exit_how"])
        execs = "".join(" -> exec %s" % e.rsplit("/", 1)[-1] for e in p["execs"])
        return "%d %s%s [%s, %d transitions]" % (p["pid"], exe, execs, st, p["transitions"])

    def walk(p, prefix, last, depth):
        out.append("  " + prefix + ("`- " if last else "|- ") + label(p) if depth else "  " + label(p))
        kids = [procs[c] for c in p["children"] if c in procs]
        if len(out) > 60:
            return
        for i, k in enumerate(kids):
            walk(k, prefix + ("   " if last or not depth else "|  ") if depth else "",
                 i == len(kids) - 1, depth + 1)
    for r in roots:
        walk(r, "", True, 0)
    if len(out) > 60:
        out = out[:60] + ["  ... (%d processes in all)" % len(procs)]
    return out


def lock_lines(s):
    if not s["locks"]:
        return []
    out = section("Locks (lock_stat columns; times in ns)")
    out += table(*lock_table(s))
    for l in s["locks"]:
        for site in l["contention_sites"]:
            out.append("  %-24s contention point: %s (%d)" % (l["class"], site["site"],
                                                                    site["contentions"]))
    for w in s["lock_waits"][:5]:
        where = frame_text(w["frames"][0]) if w["frames"] else "?"
        out.append("  %-24s %s: %d waits, %s total, max %s at %s" % (
            w["class"], w["site"], w["waits"], fmt_ns(w["wait_total_ns"]), fmt_ns(w["wait_max_ns"]), where))
    return out


def race_lines(s):
    if not s["races"]:
        return []
    out = section("Race windows (spec section 5)")
    rows = []
    for r in s["races"]:
        extra = ""
        if "reused" in r:
            extra = "reused %d, freed memory %d" % (r["reused"], r["freed_memory"])
        o = r["outcomes"]
        rows.append([r["window"], r["hits"], o["benign"], o["caught"], o["violation"], extra])
    out += table(["window", "hits", "benign", "caught", "violation", ""], rows)
    details = [(r["window"], e) for r in s["races"] for e in r["examples"]]
    if details:
        out.append("")
        out.append("  first hits (this side vs the other side, outcome):")
    for window, e in details:
        out.append("  %-24s %s vs %s: %s" % (
            e["race"] if e["race"].startswith(window[:2]) else window,
            _race_side(e), _race_side(e["other"]), e["outcome"]))
    return out


def _race_side(e):
    if not e["tid"]:
        return "unknown"
    what = ", ".join(x for x in (e["cause"], e.get("operation")) if x)
    return "pid %d tid %d%s%s" % (e["pid"], e["tid"], " (%s)" % what if what else "",
                                   " at %s" % e["site"] if e["site"] else "")


def check_lines(s):
    o = s["oracle"]
    out = section("Checker and oracle")
    out.append("  checker violations   %d" % s["violations"])
    for v in s["violation_details"][:5]:
        out.append("    INV-%d frame %#x: expected %d, found %d (%s)" % (
            v["inv"], v["frame"], v["expected"], v["found"], v["what"]))
    if o["checkpoints"]:
        pct = "%.2f%%" % (100 * o["agreement"]) if o["agreement"] is not None else "-"
        out.append("  oracle (/proc/kpagecount)  %d checkpoints: %d compared, %d agreed (%s), "
                   "%d mismatched, %d not compared" % (o["checkpoints"], o["compared"],
                                                       o["agreed"], pct, o["mismatched"],
                                                       o["not_compared"]))
        for m in o["first_mismatches"][:4]:
            out.append("    %s: pfn %#x shadow %d kernel %d" % (m["label"], m["frame"],
                                                               m["shadow"], m["kernel"]))
    else:
        out.append("  oracle               no checkpoint in the log")
    return out


def integrity_lines(s):
    i = s["integrity"]
    out = section("Log integrity")
    out.append("  %d records, %d corrupt, %d torn segments%s; %d unfinished process(es)%s" % (
        i["records"], i["corrupt"], i["torn_segments"],
        ", file TRUNCATED" if i["truncated"] else "", i["unfinished_processes"],
        " (%s)" % ", ".join(map(str, i["unfinished_pids"][:8])) if i["unfinished_pids"] else ""))
    lva = i["log_vs_arena"]
    if lva:
        out.append("  the log and the arena's counters disagree: " + ", ".join(
            "%s %d logged vs %d counted" % (k, v["logged"], v["arena"]) for k, v in lva.items()))
    elif lva is not None:
        out.append("  every transition the arena counted is in the log")
    if i["log_full"]:
        out.append("  LOG FULL from %s after start: %d later records were dropped"
                   % (fmt_ns(i["log_full_at_ns"]), i["dropped"]))
    elif i["dropped"]:
        out.append("  %d records were dropped: each was larger than a log segment"
                   % i["dropped"])
    r = s["run"]
    if r.get("enospc"):
        out.append("  ARENA FULL: %d operations refused; pages past the arena's capacity "
                   "were counted, not tracked (rmapshim run --arena-pages)" % r["enospc"])
    if r.get("locks_broken"):
        out.append("  %d rmap lock(s) taken over from processes killed inside rmapcore: "
                   "the operations they were doing are half done, and the checker "
                   "counts what they left" % r["locks_broken"])
    if i["seq_gaps"]:
        out.append("  %d sequence numbers have no record (writers killed mid-record, or "
                   "damage)" % i["seq_gaps"])
    # The same note from many processes is said once, with a count.
    first, count = {}, Counter()
    for n in s["notes"]:
        key = (n["level"], n["text"])
        first.setdefault(key, n["pid"])
        count[key] += 1
    for (level, text), pid in list(first.items())[:10]:
        more = " (x%d)" % count[(level, text)] if count[(level, text)] > 1 else ""
        out.append("  %s [pid %d] %s%s" % (level, pid, text, more))
    return out


def render(s, rundir):
    lines = run_lines(s, rundir)
    for part in (transition_lines, site_lines, tree_lines, lock_lines, race_lines,
                 check_lines, integrity_lines):
        lines += part(s)
    sc = s["shadow_cost"]
    if sc["fork_ns_per_page"] is not None or sc["exit_ns_per_page"] is not None:
        lines += section("Shadow rmap cost")
        lines.append("  fork %s ns/page (%d pages)   exit %s ns/page (%d pages)" % (
            sc["fork_ns_per_page"], sc["fork_pages"], sc["exit_ns_per_page"], sc["exit_pages"]))
    return "\n".join(lines) + "\n"
