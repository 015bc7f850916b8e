"""Transitions by call stack: folded stacks and an inline SVG flame graph."""

from html import escape

from .summary import user_frames
from .symbols import frame_name

WIDTH = 1180
ROW = 17
MIN_PX = 0.5


def weighted_stacks(run, sym):
    """[(frame names root first, transitions)], one entry per logged stack;
    transitions logged without a stack count under the process's exe."""
    out = []
    pairs = list(run.site_transitions.items())
    sym.prefetch([key for key, _ in pairs])
    for (pid, sid), n in pairs:
        frames = user_frames(sym.stack(pid, sid))
        names = [frame_name(f) for f in reversed(frames)] or ["[stack %d]" % sid]
        out.append((names, n))
    stackless = sum(p.transitions for p in run.processes.values()) - \
        sum(run.site_transitions.values())
    if stackless > 0:
        out.append((["[no stack]"], stackless))
    return out


def folded_lines(stacks):
    """flamegraph.pl's input: 'a;b;c count' (';' inside names replaced)."""
    agg = {}
    for names, n in stacks:
        key = ";".join(x.replace(";", ":").replace(" ", "_") for x in names)
        agg[key] = agg.get(key, 0) + n
    return ["%s %d" % (k, v) for k, v in sorted(agg.items())]


def _tree(stacks):
    root = {"name": "all", "value": 0, "kids": {}}
    for names, n in stacks:
        node = root
        node["value"] += n
        for name in names:
            node = node["kids"].setdefault(name, {"name": name, "value": 0, "kids": {}})
            node["value"] += n
    return root


def _color(name):
    h = sum(ord(c) for c in name) % 60
    return "rgb(%d,%d,%d)" % (205 + h // 2, 90 + h * 2, 40 + h)


def svg(stacks):
    """A static flame graph (root at the bottom); a hover shows each frame."""
    root = _tree(stacks)
    rects = []
    depth_max = [0]

    def place(node, x, depth, scale):
        w = node["value"] * scale
        if w < MIN_PX:
            return
        depth_max[0] = max(depth_max[0], depth)
        rects.append((x, depth, w, node["name"], node["value"]))
        for kid in sorted(node["kids"].values(), key=lambda k: k["name"]):
            place(kid, x, depth + 1, scale)
            x += kid["value"] * scale
    if root["value"]:
        place(root, 0.0, 0, WIDTH / root["value"])
    height = (depth_max[0] + 1) * ROW + 4
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" class="flame" width="%d" height="%d" '
             'font-family="monospace" font-size="11">' % (WIDTH, height)]
    total = root["value"] or 1
    for x, depth, w, name, value in rects:
        y = height - (depth + 1) * ROW
        label = escape(name)
        text = label[:int(w / 7)] if w > 21 else ""
        parts.append('<g><title>%s: %d transitions (%.1f%%)</title><rect x="%.1f" y="%d" '
                     'width="%.1f" height="%d" fill="%s" rx="2"/><text x="%.1f" y="%d">%s'
                     '</text></g>' % (label, value, 100.0 * value / total, x, y, w, ROW - 1,
                                      _color(name), x + 3, y + ROW - 5, text))
    parts.append("</svg>")
    return "\n".join(parts)
