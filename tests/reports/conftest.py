"""Shared fixtures of the reports tests: paths, the CLI, synthetic runs."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REPORTS = os.path.join(REPO, "reports")
sys.path[:0] = [REPORTS, HERE]

import synth  # noqa: E402


def build_dir():
    """The CMake build tree (ctest sets RMAPSHIM_BUILD)."""
    return os.environ.get("RMAPSHIM_BUILD") or os.path.join(REPO, "build")


def tool(name):
    """Path of a built binary, or None."""
    for d in (build_dir(), os.path.join(REPO, "build")):
        p = os.path.join(d, "bin", name)
        if os.access(p, os.X_OK):
            return p
    return None


def cli(*args, check=None, env=None):
    """Run `rmapshim ARGS` (python3 -m rmapshim); returns CompletedProcess."""
    e = dict(os.environ, PYTHONPATH=REPORTS)
    helper = tool("rmapshim-symbolize")
    if helper:
        e["RMAPSHIM_SYMBOLIZE"] = helper
    e.update(env or {})
    cp = subprocess.run([sys.executable, "-m", "rmapshim"] + [str(a) for a in args],
                        capture_output=True, text=True, env=e, timeout=300)
    if check is not None:
        assert cp.returncode == check, cp.stderr + cp.stdout
    return cp


@pytest.fixture
def run_dirs(tmp_path):
    """Synthetic runs: locked, lockless, a second lockless, and a killed one."""
    dirs = {}
    for name, mode, kw in (("locked", "locked", {}), ("lockless", "lockless", {}),
                           ("lockless2", "lockless", {"seed": 7}),
                           ("killed", "lockless", {"killed": True})):
        d = tmp_path / name
        synth.make_run(str(d), mode, **kw)
        dirs[name] = d
    return dirs
