"""`rmapshim compare` and `rmapshim run`, with a fake rmapshim-run."""

import json
import os

from conftest import HERE, cli

FAKE = {"RMAPSHIM_RUN": os.path.join(HERE, "fake_runner.py")}


def test_run_passes_arguments_untouched():
    cp = cli("run", "--mode", "locked", "--stacks=8", "--", "ls", "-l", env=FAKE)
    assert cp.returncode == 3
    assert json.loads(cp.stdout) == ["--mode", "locked", "--stacks=8", "--", "ls", "-l"]


def test_run_without_runner_is_one_line():
    cp = cli("run", "--", "true", env={"RMAPSHIM_RUN": "/nonexistent/rmapshim-run"})
    assert cp.returncode == 2 and len(cp.stderr.splitlines()) == 1


def test_compare_all_modes(tmp_path):
    out = tmp_path / "cmp"
    cp = cli("compare", "-o", out, "--all-modes", "--stacks", "4", "--", "prog", "-x", env=FAKE)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.count("verdict: identical transitions") == 2
    for mode in ("locked", "lockless", "lockless-rcu"):
        argv = json.load(open(out / mode / "argv.json"))
        assert argv == ["--stacks", "4", "-o", str(out / mode), "--mode", mode, "--", "prog", "-x"]
        assert (out / (mode + ".html")).exists()
        assert str(out / (mode + ".html")) in cp.stdout
    # The run directories exist now: a second compare refuses, in one line.
    again = cli("compare", "-o", out, "--", "prog", env=FAKE)
    assert again.returncode == 2 and "already exists" in again.stderr
