#!/usr/bin/python3
"""A stand-in for rmapshim-run in tests: writes a synthetic run for
-o DIR --mode MODE and records the argv it was given in DIR/argv.json."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402

args = sys.argv[1:]
out = args[args.index("-o") + 1] if "-o" in args else None
mode = args[args.index("--mode") + 1] if "--mode" in args else "lockless"
if out is None:
    print(json.dumps(args))
    sys.exit(3)
synth.make_run(out, mode)
with open(os.path.join(out, "argv.json"), "w") as f:
    json.dump(args, f)
