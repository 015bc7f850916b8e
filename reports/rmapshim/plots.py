"""The HTML report's figures: matplotlib (Agg) PNGs as base64 strings."""

import base64
import io
from collections import Counter

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
from matplotlib.ticker import MaxNLocator  # noqa: E402

MAX_POINTS = 4000

COLOR = "#3366aa"
ACCENT = "#cc4422"


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax, what):
    ax.text(0.5, 0.5, "no %s in this log" % what, ha="center", va="center",
            transform=ax.transAxes, color="#888888")


def thin(series):
    """At most about MAX_POINTS points, keeping each stride's highest value
    so that the peak survives."""
    if len(series) <= MAX_POINTS:
        return series
    step = len(series) // MAX_POINTS + 1
    out = [max(series[i:i + step], key=lambda p: p[1]) for i in range(0, len(series), step)]
    return out + [series[-1]]


def nr_mapped_and_rate(run, bins=60):
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    series = thin(run.nr_mapped_series)
    if series:
        xs = [t / 1e6 for t, _ in series]
        a1.step(xs, [v for _, v in series], where="post", color=COLOR)
        a1.fill_between(xs, [v for _, v in series], step="post", alpha=0.25, color=COLOR)
    else:
        _empty(a1, "first-map/last-unmap transition")
    a1.set_ylabel("nr_mapped")
    pts = run.rate_points
    if pts:
        end = max(t for t, _ in pts) or 1
        width = end / bins
        counts = [0] * (bins + 1)
        for t, n in pts:
            counts[min(int(t / width), bins)] += n
        a2.bar([i * width / 1e6 for i in range(bins + 1)], [c / (width / 1e9) for c in counts],
               width=width / 1e6, align="edge", color=ACCENT)
    else:
        _empty(a2, "transition")
    a2.set_ylabel("transitions / s")
    a2.set_xlabel("time since start (ms)")
    return _png(fig)


def mapcount_histogram(run):
    fig, ax = plt.subplots(figsize=(9, 3))
    hist = Counter(v for v in run.max_mapcount.values() if v > 0)
    if hist:
        xs = sorted(hist)
        ax.bar(xs, [hist[x] for x in xs], color=COLOR, width=0.8)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _empty(ax, "page-level transition")
    ax.set_xlabel("highest page_mapcount() a page reached, in the individually logged "
                  "transitions (--events pages logs them all)")
    ax.set_ylabel("pages")
    return _png(fig)


def process_timeline(run, limit=60):
    everyone = sorted(run.processes.values(), key=lambda p: (p.start_ns, p.pid))
    procs = everyone[:limit]
    fig, ax = plt.subplots(figsize=(9, max(2.0, 0.22 * len(procs) + 1)))
    end = max([run.last_ts] + [p.end_ns or 0 for p in procs]) or 1
    for i, p in enumerate(procs):
        stop = p.end_ns if p.end_ns is not None else end
        ax.broken_barh([(p.start_ns / 1e6, max(stop - p.start_ns, end / 500) / 1e6)], (i - 0.4, 0.8),
                       color=COLOR if p.end_ns is not None else ACCENT)
        for ts, _ in p.execs:
            ax.plot([ts / 1e6], [i], "k|", markersize=8)
    if not procs:
        _empty(ax, "process")
    ax.set_yticks(range(len(procs)))
    ax.set_yticklabels([str(p.pid) for p in procs], fontsize=7)
    ax.invert_yaxis()
    shown = "" if len(everyone) <= limit else "; the first %d of %d processes" % (
        limit, len(everyone))
    ax.set_xlabel("time since start (ms); red = never exited; | = exec" + shown)
    return _png(fig)


def lock_contention(summary):
    locks = summary["locks"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3))
    if locks:
        names = [l["class"] for l in locks]
        a1.barh(names, [l["contentions"] for l in locks], color=ACCENT)
        a2.barh(names, [l["waittime_total_ns"] / 1e3 for l in locks], color=COLOR)
        a2.set_yticklabels([])
    else:
        _empty(a1, "lock_stat")
    a1.set_xlabel("contentions")
    a2.set_xlabel("total wait (us)")
    return _png(fig)
