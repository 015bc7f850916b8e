#!/bin/sh
# run-spin.sh - model-check the rmap protocol models with spin and compare
# each outcome with the expectation recorded in ./configs.
#
# usage: run-spin.sh [-t] [--expect EXPECT] NAME... | all | --list
#   -t               also print the first counterexample trail (spin -t -p)
#   --expect EXPECT  override the expectation (to show the runner bites)
# Exit: 0 all as expected, 1 some mismatch, 2 usage, 77 spin/cc missing.
#
# Each configuration is generated, compiled and searched exhaustively in its
# own temporary directory: spin -a, cc -DSAFETY, pan -c0 (count every
# error, not just the first).  Search depth and hash table are bounded so a
# case takes about a second; a truncated search is a failure, never a pass.
set -u -f	# -f: the word splitting below never globs

here=$(cd "$(dirname "$0")" && pwd)
configs=$here/configs
SPIN=${SPIN:-spin}
CC=${CC:-cc}
DEPTH=${DEPTH:-1000}	# pan -m; the models need < 100
HASHBITS=${HASHBITS:-18}	# pan -w; the models store < 10^4 states
dir=
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

usage() {
	sed -n '4,8s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

config_names() {
	awk '!/^#/ && NF == 4 { print $1 }' "$configs"
}

# violated_labels PAN_OUTPUT: distinct labels of violated assertions.
violated_labels() {
	sed -n 's/^pan:[0-9]*: assertion violated \([A-Za-z0-9_]*\).*/\1/p' "$1" |
		sort -u | paste -s -d , -
}

# matches ITEM LABEL: does expectation item ITEM name LABEL?
matches() {
	case $2 in
	"$1" | "$1"_*) return 0 ;;
	esac
	return 1
}

# same_set EXPECTED GOT: every label is expected and every item was seen.
same_set() {
	for item in $(echo "$1" | tr , ' '); do
		seen=no
		for label in $(echo "$2" | tr , ' '); do
			matches "$item" "$label" && seen=yes
		done
		[ $seen = yes ] || return 1
	done
	for label in $(echo "$2" | tr , ' '); do
		known=no
		for item in $(echo "$1" | tr , ' '); do
			matches "$item" "$label" && known=yes
		done
		[ $known = yes ] || return 1
	done
	return 0
}

# run_config NAME: print one result line; return 0 iff as expected.
run_config() {
	line=$(awk -v n="$1" '!/^#/ && NF == 4 && $1 == n' "$configs")
	if [ -z "$line" ]; then
		echo "model $1: no such configuration in $configs" >&2
		return 1
	fi
	# shellcheck disable=SC2086 # split the config line into its fields
	set -- $line
	name=$1 model=$2 defines=$3 expect=${expect_override:-$4}
	dflags=
	[ "$defines" = - ] || dflags=$(echo "$defines" | sed 's/^/-D/; s/,/ -D/g')

	dir=$(mktemp -d "${TMPDIR:-/tmp}/rmap-model.XXXXXX") || return 1
	set +f
	cp "$here"/*.pml "$dir"/
	set -f
	# shellcheck disable=SC2086 # $dflags is a list of -D switches
	(
		cd "$dir" &&
		$SPIN $dflags -a "$model" >spin.out 2>&1 &&
		$CC -O2 -DSAFETY -o pan pan.c >cc.out 2>&1 &&
		./pan -m"$DEPTH" -w"$HASHBITS" -c0 >pan.out 2>&1
	)
	built=$?

	states='?' errors='?' got=
	if [ $built -ne 0 ] && [ ! -s "$dir/pan.out" ]; then
		got="build-failed"
		cat "$dir"/spin.out "$dir"/cc.out 2>/dev/null | head -20 >&2
	else
		out=$dir/pan.out
		states=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$out")
		errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out")
		labels=$(violated_labels "$out")
		if grep -q 'max search depth too small' "$out"; then
			got="truncated(-m$DEPTH)"
		elif grep -q '^pan:[0-9]*: invalid end state' "$out"; then
			got="deadlock"
		elif [ "$errors" = 0 ]; then
			got=pass
		elif [ -n "$labels" ]; then
			got=$labels
		else
			got="errors"
		fi
	fi

	verdict=FAIL
	case $expect in
	pass) [ "$got" = pass ] && verdict=ok ;;
	*) case $got in
	   pass | build-failed | truncated* | deadlock | errors) ;;
	   *) same_set "$expect" "$got" && verdict=ok ;;
	   esac ;;
	esac
	echo "model $name: spin ${dflags:-(no -D)} $model: states=$states errors=$errors expected=$expect got=$got -> $verdict"

	# shellcheck disable=SC2086
	if [ "$trail" = yes ] && [ "$got" != pass ] && [ $built -eq 0 ]; then
		(cd "$dir" && ./pan -m"$DEPTH" -w"$HASHBITS" >/dev/null 2>&1;
		 $SPIN $dflags -t -p "$model" | grep -v '^ *$')
	fi
	rm -rf "$dir"
	[ $verdict = ok ]
}

trail=no
expect_override=
while [ $# -gt 0 ]; do
	case $1 in
	-t) trail=yes ;;
	--expect) [ $# -ge 2 ] || usage; expect_override=$2; shift ;;
	--list) config_names; exit 0 ;;
	-*) usage ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || usage
if ! command -v "$SPIN" >/dev/null 2>&1 || ! command -v "$CC" >/dev/null 2>&1; then
	echo "model: SKIP: $SPIN or $CC not installed (Debian package spin)"
	exit 77
fi
# shellcheck disable=SC2046 # one word per configuration name
[ "$*" = all ] && set -- $(config_names)

status=0
for name in "$@"; do
	run_config "$name" || status=1
done
exit $status
