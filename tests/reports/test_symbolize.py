"""Symbolization: a program that records its own return addresses (a plain
function, an inlined helper, a dlopen'ed library) resolves to the right
names and lines, through the helper and through `rmapshim report`."""

import json
import os
import re
import subprocess

import pytest

import logwriter as lw
from conftest import HERE, cli, tool
from rmapshim import symbols

SRC = os.path.join(HERE, "symprog")
pytestmark = pytest.mark.skipif(tool("rmapshim-symbolize") is None,
                                reason="rmapshim-symbolize not built")


def marker_line(path, tag):
    for i, line in enumerate(open(path), 1):
        if "LINE:%s " % tag in line:
            return i
    raise AssertionError(tag)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return bytes.fromhex(m.group(1)) if m else b""


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    d = tmp_path_factory.mktemp("sym")
    lib, prog = str(d / "libsym.so"), str(d / "symprog")
    subprocess.run(["cc", "-g", "-O1", "-fPIC", "-shared", "-o", lib,
                    os.path.join(SRC, "symlib.c")], check=True)
    subprocess.run(["cc", "-g", "-O1", "-o", prog, os.path.join(SRC, "symprog.c"), "-ldl"],
                   check=True)
    out = subprocess.run([prog, lib], capture_output=True, text=True, check=True).stdout
    ras, mods = {}, []
    for line in out.splitlines():
        f = line.split()
        if f[0] == "R":
            ras[f[1]] = int(f[2], 16)
        elif f[0] == "M":
            mods.append((int(f[1], 16), int(f[2], 16), int(f[3], 16), f[4]))
    return d, ras, mods


def expect():
    prog, lib = os.path.join(SRC, "symprog.c"), os.path.join(SRC, "symlib.c")
    return {
        "inlined": [("helper", prog, marker_line(prog, "inlined"), True),
                    ("work", prog, marker_line(prog, "work"), False)],
        "direct": [("direct", prog, marker_line(prog, "direct"), False)],
        "dlopen": [("lib_entry", lib, marker_line(lib, "dlopen"), False)],
    }


def test_helper_names_lines_and_inlined_frames(capture):
    _, ras, mods = capture
    tags = sorted(ras)
    answers = symbols.run_helper(tool("rmapshim-symbolize"), [(b, p) for b, _, _, p in mods],
                                 [ras[t] - 1 for t in tags])
    for tag, ans in zip(tags, answers):
        got = [(f["function"], f["file"], f["line"], f["inlined"]) for f in ans["frames"]]
        assert got == expect()[tag], tag


def test_report_symbolizes_stacks_and_caches(capture, tmp_path):
    _, ras, mods = capture
    w = lw.LogWriter()
    pid = 4242
    w.rec(pid, lw.RUN_START, lw.run_start("lockless", ["symprog"]))
    w.rec(pid, lw.PROC_START, lw.proc(pid, 1, 1, 0, 0, mods[0][3]))
    w.rec(pid, lw.MODULES, lw.modules(pid, 1, [(b, lo, hi, p, build_id(p)) for b, lo, hi, p in mods]))
    for sid, tag, n in ((1, "inlined", 30), (2, "dlopen", 20), (3, "direct", 10)):
        w.rec(pid, lw.STACK, lw.stack(pid, sid, [ras[tag]]))
        w.rec(pid, lw.TRANSITION_AGG, lw.transition_agg(pid, sid, lw.CAUSE_FAULT, 1,
                                                        {lw.EV_MAP_FIRST: n}))
    d = tmp_path / "run"
    w.save(str(d))
    sites = json.loads(cli("report", "--json", d, check=0).stdout)["top_sites"]
    names = [[f["function"] for f in s["frames"]] for s in sites]
    assert names == [["helper", "work"], ["lib_entry"], ["direct"]]
    assert sites[1]["frames"][0]["module"] == "libsym.so"
    cache = json.load(open(d / symbols.CACHE_NAME))
    assert build_id(mods[-1][3]).hex() in cache
    # The second report needs no helper: the answers come from the cache.
    again = cli("report", "--json", d, check=0, env={"RMAPSHIM_SYMBOLIZE": "/nonexistent"})
    assert json.loads(again.stdout)["top_sites"] == sites
    text = cli("report", d, check=0).stdout
    assert "helper at symprog.c:%d (inlined)" % marker_line(os.path.join(SRC, "symprog.c"),
                                                             "inlined") in text


def test_changed_binary_is_not_trusted(capture, tmp_path):
    """A module whose file no longer has the recorded build-id (rebuilt since
    the run) gives module+offset frames, never another binary's names."""
    _, ras, mods = capture
    w = lw.LogWriter()
    bias, lo, hi, path = mods[0]
    w.rec(7, lw.PROC_START, lw.proc(7, 1, 1, 0, 0, path))
    w.rec(7, lw.MODULES, lw.modules(7, 1, [(bias, lo, hi, path, b"\x01" * 20)]))
    w.rec(7, lw.STACK, lw.stack(7, 1, [ras["direct"]]))
    w.rec(7, lw.TRANSITION_AGG, lw.transition_agg(7, 1, lw.CAUSE_FAULT, 1, {lw.EV_MAP_FIRST: 1}))
    w.save(str(tmp_path / "run"))
    frame = json.loads(cli("report", "--json", tmp_path / "run", check=0).stdout)["top_sites"][0]["frames"][0]
    assert frame["function"] is None
    assert frame["module"] == "symprog" and frame["offset"] == ras["direct"] - bias
