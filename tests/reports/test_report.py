"""`rmapshim report`, `diff`, `parse` and the CLI's behaviour with users."""

import json
import re

import synth
from conftest import cli

NoneType = type(None)
KINDS = ["map_first", "dup", "add", "remove", "unmap_last", "anon_mapping_set",
         "mapping_reset_at_free"]
CAUSES = ["fault", "fork", "cow", "munmap", "madvise", "mremap", "exit", "exec", "reclaim"]
# docs/report-schema.md, the fields it promises, as types.
SCHEMA = {
    "schema": str,
    "run": {"command": str, "mode": str, "exit_status": (int, NoneType), "duration_ns": int,
            "processes": int, "complete": bool},
    "transitions": {k: int for k in KINDS},
    "by_cause": {c: {"total": int, **{k: int for k in KINDS}} for c in CAUSES},
    "nr_mapped": {"peak": int, "final": int},
    "locks": [{"class": str, "acquisitions": int, "contentions": int, "waittime_total_ns": int,
               "waittime_max_ns": int, "holdtime_total_ns": int, "owner_changes": int}],
    "races": [{"window": str, "hits": int, "outcomes": dict}],
    "violations": int,
    "oracle": {"checkpoints": int, "compared": int, "agreed": int, "mismatched": int,
               "not_compared": int},
    "integrity": {"records": int, "corrupt": int, "unfinished_processes": int,
                  "log_full": bool, "truncated": bool},
    "shadow_cost": {"fork_ns_per_page": (float, int, NoneType),
                    "exit_ns_per_page": (float, int, NoneType)},
    "top_sites": [{"transitions": int, "frames": list}],
    "processes": [{"pid": int, "ppid": int, "exe": str}],
}


def check_schema(obj, schema, path="$"):
    if isinstance(schema, dict):
        assert isinstance(obj, dict), path
        for k, sub in schema.items():
            assert k in obj, "%s.%s missing" % (path, k)
            check_schema(obj[k], sub, "%s.%s" % (path, k))
    elif isinstance(schema, list):
        assert isinstance(obj, list), path
        for i, item in enumerate(obj):
            check_schema(item, schema[0], "%s[%d]" % (path, i))
    else:
        assert isinstance(obj, schema) and not (schema is int and isinstance(obj, bool)), \
            "%s: %r is not %s" % (path, obj, schema)


def report_json(d):
    return json.loads(cli("report", "--json", d, check=0).stdout)


def test_json_schema_and_values(run_dirs):
    for name in ("locked", "lockless"):
        s = report_json(run_dirs[name])
        check_schema(s, SCHEMA)
        exp = synth.expected(name, 3, 8)
        for k in KINDS:
            assert s["transitions"][k] == exp[k], k
        assert s["by_cause"]["fork"]["dup"] == exp["dup"]
        assert s["by_cause"]["exit"]["remove"] == exp["remove"]
        assert s["nr_mapped"]["peak"] == 8 and s["nr_mapped"]["final"] == 0
        assert s["run"]["processes"] == 4 and s["run"]["exit_status"] == 0
        assert s["integrity"]["unfinished_processes"] == 0 and s["integrity"]["corrupt"] == 0
        assert s["oracle"]["checkpoints"] == 2 and s["oracle"]["mismatched"] == 0
        assert s["violations"] == 0
        assert s["shadow_cost"]["fork_ns_per_page"] > 1000
        classes = {l["class"] for l in s["locks"]}
        assert ("PG_maplock" in classes) == (name == "locked")
        for r in s["races"]:
            assert re.match(r"R\d+_", r["window"])
    races = {r["window"]: r for r in report_json(run_dirs["lockless"])["races"]}
    r9 = races["R9_anon_vma_reuse"]
    assert r9["hits"] == 1 and r9["reused"] == 1 and r9["freed_memory"] == 0
    assert r9["outcomes"]["caught"] == 1


def test_log_vs_arena_cross_check(tmp_path):
    synth.make_run(str(tmp_path / "lost"), "lockless", lose_first_exit=True)
    s = report_json(tmp_path / "lost")
    assert s["integrity"]["log_vs_arena"] == {"remove": {"arena": 24, "logged": 16}}
    assert "remove 16 logged vs 24 counted" in cli("report", tmp_path / "lost", check=0).stdout
    synth.make_run(str(tmp_path / "whole"), "lockless")
    assert report_json(tmp_path / "whole")["integrity"]["log_vs_arena"] == {}


def test_text_report_sections(run_dirs):
    out = cli("report", run_dirs["locked"], check=0).stdout
    for title in ("Transitions by kind and cause", "Top call sites", "Process tree",
                  "Locks (lock_stat", "Checker and oracle", "Log integrity"):
        assert title in out
    assert re.search(r"PG_maplock\s+80\s+3\b", out)
    assert "final 0  (ok" in out
    assert "contention point: page_remove_rmap (3)" in out


def test_drops_and_gaps_are_stated_apart(tmp_path):
    synth.make_run(str(tmp_path / "full"), "lockless", forks=5, pages=40, seg_size=512, nseg=6)
    i = report_json(tmp_path / "full")["integrity"]
    out = cli("report", tmp_path / "full", check=0).stdout
    assert i["dropped"] > 0 and i["seq_gaps"] == 0
    assert "%d later records were dropped" % i["dropped"] in out
    assert "sequence numbers have no record" not in out


def test_killed_run_is_flagged_not_fatal(run_dirs):
    cp = cli("report", run_dirs["killed"], check=0)
    assert "INCOMPLETE" in cp.stdout and "Traceback" not in cp.stderr
    s = report_json(run_dirs["killed"])
    assert s["run"]["complete"] is False
    assert s["integrity"]["unfinished_processes"] == 2
    assert s["transitions"]["remove"] == 16      # rebuilt from the two children that exited


def test_bad_directories_one_line_exit_2(tmp_path):
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "events.rlog").write_bytes(b"x" * 5000)
    for args in (["report", tmp_path / "missing"], ["report", tmp_path],
                 ["report", tmp_path / "garbage"], ["diff", tmp_path, tmp_path],
                 ["export", tmp_path, "--format", "folded", "-o", tmp_path / "f"],
                 ["parse", tmp_path], ["report"], ["export", tmp_path, "--format", "x", "-o", "y"],
                 ["bogus"]):
        cp = cli(*args)
        assert cp.returncode == 2, args
        assert len(cp.stderr.strip().splitlines()) == 1, (args, cp.stderr)
        assert cp.stderr.startswith("rmapshim") and "Traceback" not in cp.stderr


def test_help_reads_like_a_man_page():
    cp = cli("--help", check=0)
    for sub in ("run", "report", "diff", "compare", "export", "parse"):
        assert sub in cp.stdout
    for sub in ("report", "diff", "compare", "export", "parse"):
        out = cli(sub, "--help", check=0).stdout
        assert "example" in out, sub
        assert len(out.splitlines()) > 10, sub


def test_diff_identical_and_modes(run_dirs):
    out = cli("diff", run_dirs["lockless"], run_dirs["lockless2"], check=0).stdout
    assert "verdict: identical transitions" in out
    d = json.loads(cli("diff", "--json", run_dirs["locked"], run_dirs["lockless"], check=0).stdout)
    assert d["identical_transitions"]
    pgm = [l for l in d["locks"] if l["class"] == "PG_maplock"][0]
    assert pgm["only_in"] == "a" and pgm["a"]["contentions"] == 3
    assert d["shadow_cost"]["fork"]["ratio"] > 1.2          # synth: 4000 vs 3000 ns/page
    assert "PG_maplock only in locked" in d["verdict"]


def test_diff_detects_different_transitions(tmp_path):
    synth.make_run(str(tmp_path / "a"), "lockless", forks=3, pages=40)
    synth.make_run(str(tmp_path / "b"), "lockless", forks=4, pages=40)
    d = json.loads(cli("diff", "--json", tmp_path / "a", tmp_path / "b", check=0).stdout)
    assert not d["identical_transitions"] and not d["within_noise"]
    assert d["transitions"]["dup"]["delta"] == 40
    assert d["verdict"].startswith("TRANSITIONS DIFFER beyond 5.0% noise: dup 120 vs 160 (25.0%)")
    assert d["verdict"].endswith("NOT the same command")     # -n 3 vs -n 4


def test_diff_small_deltas_are_noise(tmp_path):
    synth.make_run(str(tmp_path / "a"), "lockless", forks=3, pages=8)
    synth.make_run(str(tmp_path / "b"), "lockless", forks=4, pages=8)
    d = json.loads(cli("diff", "--json", tmp_path / "a", tmp_path / "b", check=0).stdout)
    assert not d["identical_transitions"] and d["within_noise"]
    assert d["verdict"].startswith("same pte work within noise (largest: dup +8")


def test_parse_prints_every_record(run_dirs):
    out = cli("parse", run_dirs["lockless"], check=0).stdout.splitlines()
    body = [l for l in out if not l.startswith("#")]
    assert len(body) == int(out[-1].split()[1])
    assert any(" FORK " in l and "child_pid=1001" in l for l in body)
    assert out[-1].startswith("# ") and "0 corrupt" in out[-1]
