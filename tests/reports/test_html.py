"""`report --html` and `diff --html`: self-contained, and the plots really
render in headless Chromium (pixels checked, not file sizes)."""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import pytest

import synth
from conftest import cli

CHROMIUM = shutil.which("chromium")


def check_self_contained(html):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script src" not in html


@pytest.fixture(scope="module")
def locked_html(tmp_path_factory):
    """The HTML report of a synthetic locked run, made once for the module."""
    d = tmp_path_factory.mktemp("html")
    synth.make_run(str(d / "locked"), "locked")
    out = d / "r.html"
    cp = cli("report", "--html", out, d / "locked", check=0)
    assert str(out) in cp.stdout
    return out


def test_html_report_is_self_contained(locked_html):
    html = locked_html.read_text()
    check_self_contained(html)
    assert html.count('src="data:image/png;base64,') == 4
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="flame"' in html
    assert html.count('class="sortable"') >= 5
    for name in ("forkstorm+0x11a0", "PG_maplock", "&amp;anon_vma-&gt;lock"):
        assert name in html


def test_html_of_a_killed_run(run_dirs, tmp_path):
    out = tmp_path / "k.html"
    cli("report", "--html", out, run_dirs["killed"], check=0)
    html = out.read_text()
    assert "INCOMPLETE" in html and html.count('src="data:image/png;base64,') == 4


def test_diff_html(run_dirs, tmp_path):
    out = tmp_path / "d.html"
    cli("diff", "--html", out, run_dirs["locked"], run_dirs["lockless"], check=0)
    html = out.read_text()
    check_self_contained(html)
    assert "identical transitions" in html and "PG_maplock" in html


def png_pixels(path):
    """Decode an 8-bit RGB/RGBA PNG (all five row filters) to an array."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, w * bpp + 1)
    img = np.zeros((h, w * bpp), dtype=np.int32)
    prev = np.zeros(w * bpp, dtype=np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) % 256
        elif f == 2:
            cur = (line + prev) % 256
        else:
            cur = line.copy()
            for x in range(w * bpp):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                if f == 3:
                    cur[x] = (cur[x] + (a + b) // 2) % 256
                else:
                    c = prev[x - bpp] if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[x] = (cur[x] + pred) % 256
        img[y] = cur
        prev = cur
    return img.reshape(h, w, bpp)[:, :, :3]


def chromium(*args):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--enable-logging=stderr", "--v=0",
             "--user-data-dir=" + profile] + list(args), capture_output=True, text=True,
            timeout=120)


def screenshot(html, png):
    cp = chromium("--screenshot=" + str(png), "--window-size=1200,2000", "file://" + str(html))
    assert os.path.exists(png), cp.stderr[-2000:]
    return cp.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_tables_sort_on_click(locked_html, tmp_path):
    html = tmp_path / "r.html"
    # Click the "pid" header of the process table twice (ascending, then
    # descending) and leave the resulting order in the DOM for --dump-dom.
    probe = """<script>
var t = document.querySelectorAll('table.sortable')[2], th = t.tHead.rows[0].cells[0];
th.click(); th.click();
document.body.setAttribute('data-order', Array.prototype.map.call(t.tBodies[0].rows,
  function(r) { return r.cells[0].textContent; }).join(','));
</script></body>"""
    html.write_text(locked_html.read_text().replace("</body>", probe))
    dom = chromium("--dump-dom", "file://" + str(html)).stdout
    assert 'data-order="1003,1002,1001,1000"' in dom, dom[-500:]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_plots_render_in_headless_chromium(locked_html, tmp_path):
    log = screenshot(locked_html, tmp_path / "shot.png")
    assert "CONSOLE" not in log, log             # no console message at all
    px = png_pixels(tmp_path / "shot.png")
    r, g, b = px[:, :, 0], px[:, :, 1], px[:, :, 2]
    plot_blue = (b > r + 60) & (b > g + 20)          # matplotlib fills and lines (#3366aa)
    flame = (r > 180) & (g > 80) & (g < 200) & (b < 120)   # the flame graph's oranges
    assert plot_blue.sum() > 20000, plot_blue.sum()
    assert flame.sum() > 5000, flame.sum()
    # The first plot (nr_mapped) sits in the upper half, left column.
    top = plot_blue[: px.shape[0] // 2, : px.shape[1] // 2]
    assert top.sum() > 5000
    # Nothing else on the page is that blue: table headers are #eef, text
    # is black, so these pixels are the plots.
