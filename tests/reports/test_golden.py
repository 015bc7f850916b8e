"""Golden files: the terminal report and diff of synthetic runs, compared
line by line with tests/reports/golden/*.expected.  After an intended
change of the output, regenerate them with RMAPSHIM_GOLDEN_UPDATE=1 and
review the diff."""

import difflib
import os

import synth
from conftest import HERE, cli

GOLDEN = os.path.join(HERE, "golden")


def check(name, text):
    path = os.path.join(GOLDEN, name + ".expected")
    if os.environ.get("RMAPSHIM_GOLDEN_UPDATE"):
        with open(path, "w") as f:
            f.write(text)
    expected = open(path).read()
    assert text == expected, "".join(difflib.unified_diff(
        expected.splitlines(True), text.splitlines(True), path, "actual"))


def test_golden_report_and_diff(tmp_path):
    for mode in ("locked", "lockless"):
        synth.make_run(str(tmp_path / mode), mode, forks=3, pages=8)
    env = {"RMAPSHIM_SYMBOLIZE": ""}
    for mode in ("locked", "lockless"):
        out = cli("report", tmp_path / mode, check=0, env=env).stdout
        check("report-" + mode, out.replace(str(tmp_path), "TMP"))
    out = cli("diff", tmp_path / "locked", tmp_path / "lockless", check=0, env=env).stdout
    check("diff", out.replace(str(tmp_path), "TMP"))
