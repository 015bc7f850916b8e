"""`report --html` and `diff --html`: one self-contained HTML file.

No network, no third-party asset: plots are embedded PNGs, the flame
graph is inline SVG, and the table sorting is a few lines of inline JS.
"""

from html import escape

from . import flamegraph, plots
from .summary import lock_table, transition_table
from .symbols import frame_text
from .textreport import fmt_ns

MAX_PROCESS_ROWS = 300

STYLE = """
body{font:14px/1.4 sans-serif;margin:20px;color:#222;max-width:1200px}
h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #ccc;margin-top:28px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 8px}
th{background:#eef;cursor:pointer;user-select:none}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fee;border:1px solid #c44;padding:6px}.ok{color:#272}.bad{color:#b22}
img{max-width:100%}svg.flame text{pointer-events:none}
"""

SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col) {
  th.addEventListener('click', function() {
    var tb = th.closest('table').tBodies[0], asc = th.dataset.asc !== '1';
    th.dataset.asc = asc ? '1' : '0';
    var rows = Array.prototype.slice.call(tb.rows);
    rows.sort(function(a, b) {
      var x = a.cells[th.cellIndex].textContent, y = b.cells[th.cellIndex].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return asc ? c : -c;
    });
    rows.forEach(function(r) { tb.appendChild(r); });
  });
});
"""


def table(headers, rows):
    head = "".join("<th>%s</th>" % escape(str(h)) for h in headers)
    body = []
    for r in rows:
        cells = "".join('<td class="n">%s</td>' % escape(str(c)) if isinstance(c, (int, float))
                        else "<td>%s</td>" % escape(str(c)) for c in r)
        body.append("<tr>%s</tr>" % cells)
    return '<table class="sortable"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (
        head, "".join(body))


def img(b64, alt):
    return '<img alt="%s" src="data:image/png;base64,%s">' % (escape(alt), b64)


def page(title, parts):
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>%s</title>"
            "<style>%s</style></head><body><h1>%s</h1>%s<script>%s</script></body></html>\n"
            % (escape(title), STYLE, escape(title), "\n".join(parts), SORT_JS))


def summary_parts(s):
    r = s["run"]
    out = ["<p><b>command</b> %s<br><b>mode</b> %s &nbsp; <b>processes</b> %s &nbsp; "
           "<b>duration</b> %s &nbsp; <b>exit status</b> %s</p>" % (
               escape(r["command"]), escape(r["mode"]), r["processes"],
               fmt_ns(r["duration_ns"]), r["exit_status"])]
    if not r["complete"]:
        out.append('<p class="warn">INCOMPLETE: the run ended without its end record; %d '
                   'process(es) never exited.</p>' % s["integrity"]["unfinished_processes"])
    nm = s["nr_mapped"]
    out.append("<h2>Transitions</h2>")
    out.append(table(*transition_table(s, every_kind=True)))
    cls = "ok" if nm["final"] == 0 else "bad"
    out.append('<p>nr_mapped peak <b>%d</b>, final <b class="%s">%d</b></p>' % (
        nm["peak"], cls, nm["final"]))
    return out


def run_parts(run, s, sym):
    out = summary_parts(s)
    out.append(img(plots.nr_mapped_and_rate(run), "nr_mapped and transition rate over time"))
    out.append(img(plots.mapcount_histogram(run), "mapcount histogram"))
    out.append("<h2>Top call sites</h2>")
    out.append(table(["transitions", "pid", "site", "callers"],
                     [[t["transitions"], t["pid"], frame_text(t["frames"][0]) if t["frames"] else "?",
                       " <- ".join(frame_text(f) for f in t["frames"][1:4])]
                      for t in s["top_sites"]]))
    out.append("<h2>Flame graph of transitions by call stack</h2>")
    out.append(flamegraph.svg(flamegraph.weighted_stacks(run, sym)))
    out.append("<h2>Processes</h2>")
    out.append(img(plots.process_timeline(run), "per-process timeline"))
    procs = sorted(s["processes"], key=lambda p: -p["transitions"])[:MAX_PROCESS_ROWS]
    if len(s["processes"]) > MAX_PROCESS_ROWS:
        out.append("<p>The %d processes with the most transitions, of %d.</p>" % (
            MAX_PROCESS_ROWS, len(s["processes"])))
    out.append(table(["pid", "ppid", "exe", "how", "start", "end", "exit", "transitions"],
                     [[p["pid"], p["ppid"], p["exe"], p["how"], fmt_ns(p["start_ns"]),
                       fmt_ns(p["end_ns"]), "-" if p["exit_status"] is None else p["exit_status"],
                       p["transitions"]] for p in procs]))
    out.append("<h2>Locks (lock_stat)</h2>")
    out.append(img(plots.lock_contention(s), "contention by lock class"))
    out.append(table(*lock_table(s)))
    out.append("<h2>Race windows</h2>")
    out.append(table(["window", "hits", "benign", "caught", "violation", "reused", "freed memory"],
                     [[w["window"], w["hits"], w["outcomes"]["benign"], w["outcomes"]["caught"],
                       w["outcomes"]["violation"], w.get("reused", ""), w.get("freed_memory", "")]
                      for w in s["races"]]))
    o, i = s["oracle"], s["integrity"]
    out.append("<h2>Checker, oracle, log</h2><p>checker violations <b>%d</b><br>oracle: %d "
               "checkpoints, %d compared, %d agreed, %d mismatched, %d not compared<br>log: %d "
               "records, %d corrupt, %d torn segments%s%s</p>" % (
                   s["violations"], o["checkpoints"], o["compared"], o["agreed"],
                   o["mismatched"], o["not_compared"], i["records"], i["corrupt"],
                   i["torn_segments"], ", truncated" if i["truncated"] else "",
                   ", LOG FULL" if i["log_full"] else ""))
    return out


def write(path, run, s, sym):
    with open(path, "w") as f:
        f.write(page("rmapshim report: %s" % run.dir, run_parts(run, s, sym)))


def write_diff(path, d):
    """The diff as HTML: the same tables as the terminal, sortable."""
    parts = ["<p><b>%s</b> vs <b>%s</b></p>" % (escape(d["a"]["dir"]), escape(d["b"]["dir"]))]
    for name, sec in (("Transitions", d["transitions"]), ("By cause", d["by_cause"])):
        parts.append("<h2>%s</h2>" % name)
        parts.append(table(["", d["a"]["mode"], d["b"]["mode"], "delta"],
                           [[k, v["a"], v["b"], v["delta"]] for k, v in sec.items()]))
    parts.append("<h2>Shadow cost (ns/page)</h2>")
    parts.append(table(["path", d["a"]["mode"], d["b"]["mode"], "ratio a/b"],
                       [[k, v["a"], v["b"], v["ratio"]] for k, v in d["shadow_cost"].items()]))
    parts.append("<h2>Locks</h2>")
    parts.append(table(["class", "acq a", "acq b", "contentions a", "contentions b",
                        "wait total a", "wait total b"],
                       [[l["class"], l["a"]["acquisitions"], l["b"]["acquisitions"],
                         l["a"]["contentions"], l["b"]["contentions"],
                         l["a"]["waittime_total_ns"], l["b"]["waittime_total_ns"]]
                        for l in d["locks"]]))
    parts.append("<h2>Verdict</h2><p><b>%s</b></p>" % escape(d["verdict"]))
    with open(path, "w") as f:
        f.write(page("rmapshim diff", parts))
