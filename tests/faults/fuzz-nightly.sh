#!/bin/sh
# SPDX-License-Identifier: MIT
# Nightly-style fuzzing of the log reader and everything behind `rmapshim
# report/diff/export/parse`: the reports layer's own hypothesis tests
# (tests/reports/test_fuzz_bytes.py, test_fuzz_records.py), with more cases
# and fresh randomness (RMAPSHIM_FUZZ_RANDOM=1; CI runs a fixed seeded set).
#
#   tests/faults/fuzz-nightly.sh [CASES [BUILD_DIR]]
#
# CASES per test file (default 50000, i.e. 100,000 logs); BUILD_DIR default
# build.  Exit status: pytest's (0: no input made any reader raise).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$(dirname "$here")")
cases=${1:-50000}
build=$(cd "${2:-$src/build}" && pwd)
case $cases in
	''|*[!0-9]*) echo "fuzz-nightly.sh: CASES must be a number, not '$cases'" >&2; exit 2 ;;
esac
echo "fuzz-nightly: $cases cases per file, build $build"
cd "$src/tests/reports"
RMAPSHIM_FUZZ_RANDOM=1 RMAPSHIM_FUZZ_EXAMPLES=$cases RMAPSHIM_BUILD=$build PYTHONDONTWRITEBYTECODE=1 \
	exec /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	test_fuzz_bytes.py test_fuzz_records.py
