#!/usr/bin/python3
"""Soak: real programs under the shim in every mode, compared with native runs.

Each workload runs natively, then under `rmapshim run` in locked, lockless and
lockless-rcu mode, in a fresh scratch directory each time.  A run passes when
stdout and the exit status equal the native run's, and `rmapshim report --json`
shows nr_mapped.final == 0, zero violations and no oracle mismatch.

    tests/soak/soak.py [--build DIR] [--size small|large] [--only NAME]

Bounded by construction (fixed work per workload); --size large is the
nightly-style variant.  Exit status 0 if every run passed, 1 otherwise.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

MODES = ("locked", "lockless", "lockless-rcu")
# Fixed dates make git's object ids, hence its output, deterministic.
GIT_ENV = {"GIT_AUTHOR_NAME": "soak", "GIT_AUTHOR_EMAIL": "soak@example.invalid",
           "GIT_COMMITTER_NAME": "soak", "GIT_COMMITTER_EMAIL": "soak@example.invalid",
           "GIT_AUTHOR_DATE": "2004-08-16T23:40:52+0000",
           "GIT_COMMITTER_DATE": "2004-08-16T23:40:52+0000",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "."}


def workloads(size, src):
    n = 4000 if size == "small" else 40000
    procs = 2 if size == "small" else 4
    py = ("import multiprocessing as mp\n"
          "def f(i): return sum(j*j for j in range(i*1000))\n"
          "if __name__ == '__main__':\n"
          "    mp.set_start_method('fork')\n"
          f"    with mp.Pool({procs}) as p: print(sum(p.map(f, range(64))))\n")
    sql = ("CREATE TABLE t(a INTEGER, b TEXT);\nBEGIN;\n"
           + "".join(f"INSERT INTO t VALUES({i}, 'row{i}');\n" for i in range(n))
           + "COMMIT;\nSELECT count(*), sum(a) FROM t;\n")
    git = ("set -e; git init -q r; cd r; for i in 1 2 3 4 5; do echo $i > f$i; "
           "git add f$i; git commit -qm c$i; done; git gc -q; cd ..; "
           "git clone -q r r2; git -C r2 log --format=%H%x20%s")
    sh = ("set -e; for i in $(seq 1 40); do echo $i; done | sort -rn | head -5; "
          "x=$( (echo a; echo b) | tr a-z A-Z | wc -l ); echo $x; "
          "( cd / && pwd ); seq 1 200 | awk '{s+=$1} END {print s}'")
    make_cmd = (f"cmake -S {src} -B b -DRMAPSHIM_SANITIZE= >/dev/null && "
                "make -C b -j2 rmapcore >/dev/null && echo built")
    return {
        "python-mp": ["/usr/bin/python3", "-c", py],
        "sqlite3": ["sh", "-c", f"sqlite3 db < q.sql"],
        "git": ["sh", "-c", git],
        "bash": ["bash", "-c", sh],
        "make": ["sh", "-c", make_cmd],
    }, {"q.sql": sql}


def run(cmd, cwd, env):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--size", choices=("small", "large"), default="small")
    ap.add_argument("--only", help="run one workload")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    cli = os.path.join(build, "bin", "rmapshim")
    if not os.access(cli, os.X_OK):
        print(f"soak: {cli} not found: build first (make)", file=sys.stderr)
        return 2
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    loads, files = workloads(args.size, src)
    env = dict(os.environ, **GIT_ENV)
    failed = 0
    passed = 0
    for name, cmd in loads.items():
        if args.only and name != args.only:
            continue
        if shutil.which(cmd[0]) is None:
            print(f"SKIP {name}: {cmd[0]} not installed")
            continue
        results = {}
        for mode in ("native",) + MODES:
            work = tempfile.mkdtemp(prefix=f"soak-{name}-")
            for fn, text in files.items():
                with open(os.path.join(work, fn), "w") as f:
                    f.write(text)
            full = cmd
            if mode != "native":
                full = [cli, "run", "-q", "--mode", mode, "-o",
                        os.path.join(work, "trace"), "--"] + cmd
            rc, out = run(full, work, env)
            problems = []
            if mode != "native":
                nat_rc, nat_out = results["native"]
                if (rc, out) != (nat_rc, nat_out):
                    problems.append(f"output/exit differ from native (rc {rc} vs {nat_rc})")
                rep = subprocess.run([cli, "report", "--json", os.path.join(work, "trace")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    j = json.loads(rep.stdout)
                    if j["nr_mapped"]["final"] != 0:
                        problems.append(f"nr_mapped.final {j['nr_mapped']['final']}")
                    if j["violations"]:
                        problems.append(f"violations {j['violations']}")
                    if j["oracle"]["mismatched"]:
                        problems.append(f"oracle mismatched {j['oracle']['mismatched']}")
                except (ValueError, KeyError, TypeError) as e:
                    problems.append(f"report --json unreadable: {e}: {rep.stderr[-200:]!r}")
            results[mode] = (rc, out)
            if problems:
                failed += 1
                print(f"FAIL {name} [{mode}]: " + "; ".join(problems))
                print(f"     kept {work}")
            else:
                if mode != "native":
                    passed += 1
                    print(f"ok   {name} [{mode}]")
                shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
