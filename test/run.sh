#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the whole suite: unit tests, fuzz-corpus replay, then the integration
# tests under test/integration (each a script: exit 0 pass, 77 skip, else
# fail; NAME-lib.sh files are helpers the tests source). Ends with one line "N passed, N failed, N skipped".
# usage: test/run.sh BUILD_DIR [FILTER]
set -u
BUILD=${1:-build}
FILTER=${2:-}
cd "$(dirname "$0")/.."
export CM_BUILD=$(realpath "$BUILD")
export CRIU_MEM="$CM_BUILD/criu-mem"
passed=0 failed=0 skipped=0
failures=()

if [ -z "$FILTER" ] || [[ unit == *"$FILTER"* ]]; then
	out=$("$CM_BUILD/test/unit-tests" 2>&1)
	echo "$out" | grep -v '^unit: '
	p=$(echo "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		echo "FAIL unit-tests crashed"; failed=$((failed + 1)); failures+=(unit-tests)
	else
		passed=$((passed + p)); failed=$((failed + f))
		[ "$f" != 0 ] && failures+=(unit)
	fi
fi

# Replay each fuzz target's committed corpus (built without libFuzzer).
for r in "$CM_BUILD"/test/fuzz-replay-*; do
	[ -x "$r" ] || continue
	name=${r##*/fuzz-replay-}
	[ -n "$FILTER" ] && [[ fuzz-$name != *"$FILTER"* ]] && continue
	if "$r" test/corpus/"$name"/* >/dev/null 2>"$CM_BUILD/fuzz-$name.log"; then
		echo "ok   fuzz-replay/$name"; passed=$((passed + 1))
	else
		echo "FAIL fuzz-replay/$name (see $CM_BUILD/fuzz-$name.log)"; tail -5 "$CM_BUILD/fuzz-$name.log"
		failed=$((failed + 1)); failures+=(fuzz-$name)
	fi
done

for t in test/integration/*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	case $name in *-lib) continue ;; esac	# sourced helpers, not tests
	[ -n "$FILTER" ] && [[ $name != *"$FILTER"* ]] && continue
	log="$CM_BUILD/test-logs/$name.log"
	mkdir -p "$CM_BUILD/test-logs"
	start=$(date +%s.%N)
	timeout -k 10 300 bash "$t" >"$log" 2>&1
	rc=$?
	dur=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo 0)")
	case $rc in
	0) echo "ok   $name (${dur}s)"; passed=$((passed + 1)) ;;
	77) echo "skip $name: $(tail -1 "$log")"; skipped=$((skipped + 1)) ;;
	*) echo "FAIL $name (rc=$rc, ${dur}s), last lines of $log:"; tail -15 "$log" | sed 's/^/    /'
	   failed=$((failed + 1)); failures+=("$name") ;;
	esac
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
