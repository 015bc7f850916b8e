"""`rmapshim diff A B`: two runs of one workload, side by side.

The mapcount transitions (map_first, dup, add, remove, unmap_last) are
compared kind by kind; "identical" means every kind matches exactly.
Between runs of a real program, which mapper of a page comes first (or
unmaps last) depends on scheduling, so the first/other split may move
while the pte work does not: the noise judgement is made on the sums
that only the workload decides -- installs (map_first + add), dup and
removals (remove + unmap_last) -- within --noise percent, deltas of at
most NOISE_FLOOR being noise whatever their percentage.  How a stale anon mapping is dropped is mode
specific by design (mapping_cleared at last unmap in locked,
mapping_reset_at_free on the free path in the lockless modes), so those
kinds are shown but not judged.
"""

import json
import sys

from . import abi, model, summary
from .symbols import Symbolizer
from .textreport import fmt_ns, table

JUDGED = abi.MAPCOUNT_KINDS
# What the workload alone decides: pte installs, fork copies, pte removals.
SUMS = {"installs (map_first+add)": ("map_first", "add"), "dup": ("dup",),
        "removals (remove+unmap_last)": ("remove", "unmap_last")}
# Deltas this small are noise whatever the percentage (a handful of pages
# faulted before or after a checkpoint).
NOISE_FLOOR = 16


def _pair(a, b):
    d = b - a
    rel = abs(d) / max(abs(a), abs(b)) if (a or b) else 0.0
    return {"a": a, "b": b, "delta": d, "rel": round(rel, 6)}


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def _side(rundir, s):
    r = s["run"]
    return {"dir": rundir, "mode": r["mode"], "command": r["command"],
            "duration_ns": r["duration_ns"], "exit_status": r["exit_status"],
            "complete": r["complete"], "nr_mapped": s["nr_mapped"]}


def compare(sa, sb, dir_a, dir_b, noise_pct=5.0, cost_noise_pct=None):
    """The diff of two report summaries, as a dict (the --json output)."""
    trans = {k: _pair(sa["transitions"][k], sb["transitions"][k]) for k in abi.TRANSITION_KINDS}
    by_cause = {}
    for c in abi.CAUSES:
        ra, rb = sa["by_cause"].get(c), sb["by_cause"].get(c)
        if not ra and not rb:
            continue
        for k in JUDGED:
            va, vb = (ra or {}).get(k, 0), (rb or {}).get(k, 0)
            if va or vb:
                by_cause["%s.%s" % (c, k)] = _pair(va, vb)
    judged = [trans[k] for k in JUDGED]
    identical = all(p["delta"] == 0 for p in judged + list(by_cause.values()))
    sums = {name: _pair(sum(sa["transitions"][k] for k in kinds),
                        sum(sb["transitions"][k] for k in kinds))
            for name, kinds in SUMS.items()}
    # Noise is judged on the sums: per-cause cells can be tiny, and the
    # first/other split is the scheduler's.
    worst = max([p["rel"] for p in sums.values() if abs(p["delta"]) > NOISE_FLOOR] or [0.0])
    cost = {}
    for path in ("fork", "exit"):
        a = sa["shadow_cost"]["%s_ns_per_page" % path]
        b = sb["shadow_cost"]["%s_ns_per_page" % path]
        cost[path] = {"a": a, "b": b, "ratio": _ratio(a, b)}
    locks = []
    la = {l["class"]: l for l in sa["locks"]}
    lb = {l["class"]: l for l in sb["locks"]}
    keys = ("acquisitions", "contentions", "waittime_total_ns", "holdtime_total_ns",
            "owner_changes")
    empty = dict.fromkeys(keys, 0)
    for cls in [c for c in abi.LOCK_CLASSES if c in la or c in lb]:
        a, b = la.get(cls), lb.get(cls)
        locks.append({"class": cls, "a": {k: (a or empty)[k] for k in keys},
                      "b": {k: (b or empty)[k] for k in keys},
                      "only_in": None if a and b else ("a" if a else "b")})
    d = {"a": _side(dir_a, sa), "b": _side(dir_b, sb), "transitions": trans, "sums": sums,
         "by_cause": by_cause, "identical_transitions": identical,
         "max_relative_delta": worst, "noise_pct": noise_pct,
         "within_noise": worst * 100 <= noise_pct, "shadow_cost": cost,
         "cost_noise_pct": cost_noise_pct, "locks": locks,
         "wall_time": {"a": sa["run"]["duration_ns"], "b": sb["run"]["duration_ns"],
                       "ratio": _ratio(sa["run"]["duration_ns"], sb["run"]["duration_ns"])}}
    d["verdict"] = verdict(d)
    return d


def verdict(d):
    ma, mb = d["a"]["mode"], d["b"]["mode"]
    n = sum(d["transitions"][k]["a"] for k in JUDGED)
    if d["identical_transitions"]:
        parts = ["identical transitions (%d mapcount transitions in both)" % n]
    elif d["within_noise"]:
        kind, p = max(d["sums"].items(), key=lambda kp: abs(kp[1]["delta"]))
        parts = ["same pte work within noise (largest: %s %+d, %.2f%%; noise %.1f%%)" % (
            kind, p["delta"], 100 * p["rel"], d["noise_pct"])]
    else:
        worst = [(k, p) for k, p in d["sums"].items()
                 if abs(p["delta"]) > NOISE_FLOOR and 100 * p["rel"] > d["noise_pct"]]
        parts = ["TRANSITIONS DIFFER beyond %.1f%% noise: %s" % (d["noise_pct"], ", ".join(
            "%s %d vs %d (%.1f%%)" % (k, p["a"], p["b"], 100 * p["rel"]) for k, p in worst))]
    fork = d["shadow_cost"]["fork"]
    if fork["ratio"]:
        # ratio = A/B: above 1, B's fork path is the cheaper one.
        factor, word = (fork["ratio"], "cheaper") if fork["ratio"] >= 1 else \
            (1 / fork["ratio"], "dearer")
        spread = d["cost_noise_pct"]
        if spread is not None and 100 * (factor - 1) <= spread:
            parts.append("shadow fork path %.0f vs %.0f ns/page (%s vs %s): within this "
                         "workload's run-to-run spread of %.0f%%" % (
                             fork["a"], fork["b"], ma, mb, spread))
        else:
            parts.append("%s's shadow fork path %.2fx %s per page than %s's (%.0f vs %.0f ns)" % (
                mb, factor, word, ma, fork["b"], fork["a"]))
    only = ["%s only in %s" % (l["class"], ma if l["only_in"] == "a" else mb)
            for l in d["locks"] if l["only_in"]]
    parts += only
    for side in ("a", "b"):
        if not d[side]["complete"]:
            parts.append("%s run INCOMPLETE" % d[side]["dir"])
    if d["a"]["command"] != d["b"]["command"]:
        parts.append("NOT the same command")
    return "; ".join(parts)


def render(d):
    a, b = d["a"], d["b"]
    out = ["rmapshim diff", "  A  %s  (%s)" % (a["dir"], a["mode"]),
           "  B  %s  (%s)" % (b["dir"], b["mode"]), "", "Transitions"]
    hdr = ["kind", "A " + a["mode"], "B " + b["mode"], "delta"]
    out += table(hdr, [[k, v["a"], v["b"], "%+d" % v["delta"]]
                       for k, v in d["transitions"].items() if v["a"] or v["b"]])
    out += ["", "Pte work (what the workload decides)"]
    out += table(hdr, [[k, v["a"], v["b"], "%+d" % v["delta"]] for k, v in d["sums"].items()])
    out += ["", "By cause (mapcount transitions)"]
    out += table(hdr, [[k, v["a"], v["b"], "%+d" % v["delta"]] for k, v in d["by_cause"].items()])
    out += ["", "Shadow rmap cost per page"]
    out += table(["path", "A ns/page", "B ns/page", "A/B"],
                 [[p, v["a"], v["b"], v["ratio"]] for p, v in d["shadow_cost"].items()])
    out += ["", "Locks"]
    out += table(["class", "A acq", "B acq", "A cont", "B cont", "A wait", "B wait", ""],
                 [[l["class"], l["a"]["acquisitions"], l["b"]["acquisitions"],
                   l["a"]["contentions"], l["b"]["contentions"],
                   fmt_ns(l["a"]["waittime_total_ns"]), fmt_ns(l["b"]["waittime_total_ns"]),
                   "only in " + (a["mode"] if l["only_in"] == "a" else b["mode"])
                   if l["only_in"] else ""] for l in d["locks"]])
    w = d["wall_time"]
    out += ["", "Wall time   A %s   B %s   A/B %s" % (fmt_ns(w["a"]), fmt_ns(w["b"]), w["ratio"]),
            "", "verdict: " + d["verdict"]]
    return "\n".join(out) + "\n"


def summarize_dir(rundir):
    run = model.load(rundir)
    return summary.summarize(run, Symbolizer(run))


def main(dir_a, dir_b, as_json=False, html=None, noise=5.0, out=sys.stdout):
    d = compare(summarize_dir(dir_a), summarize_dir(dir_b), dir_a, dir_b, noise)
    if html:
        from . import htmlreport
        htmlreport.write_diff(html, d)
    if as_json:
        json.dump(d, out, indent=1)
        out.write("\n")
    else:
        out.write(render(d))
    return 0
