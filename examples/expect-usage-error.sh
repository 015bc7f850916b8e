#!/bin/sh
# expect-usage-error.sh PROGRAM ARGS... - pass if PROGRAM ARGS exits with
# status 2 and says why in exactly one line on stderr, printing nothing
# on stdout (the examples' rule for bad options).
out=$("$@" 2>/dev/null)
rc=$?
err=$("$@" 2>&1 >/dev/null)
lines=$(printf '%s\n' "$err" | grep -c .)
if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [ -n "$out" ]; then
	echo "FAIL: $*: exit $rc (want 2), $lines stderr lines (want 1), stdout '$out'"
	exit 1
fi
echo "ok: $err"
