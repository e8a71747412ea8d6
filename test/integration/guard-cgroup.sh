#!/bin/bash
# SPDX-License-Identifier: MIT
# The session guard (cm-probe -g) thaws a cgroup frozen by a SIGKILLed
# holder (v2 and v1 freezer), and repairs a guarded injected-call session
# on a target in a cgroup: thawed, running, untraced, maps and fds as before.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
PROBE="$CM_BUILD/test/cm-probe"
CGS=()

cg_cleanup() {
	local c p
	for c in "${CGS[@]}"; do
		echo 0 2>/dev/null >"$c/cgroup.freeze"
		echo THAWED 2>/dev/null >"$c/freezer.state"
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -KILL "$p"; done
		sleep 0.1
		rmdir "$c" 2>/dev/null
	done
	cleanup
}
trap cg_cleanup EXIT

frozen_v2() { grep -q '^frozen 1' "$1/cgroup.events"; }
frozen_v1() { grep -q FROZEN "$1/freezer.state"; }

# hold_kill V CG CMD ARGS...: runs cm-probe -g -c CG, SIGKILLs it once it
# printed WAIT, then the cgroup must thaw and the guard go within 2 s.
hold_kill() {
	local v=$1 cg=$2 wait=$3 g st
	shift 3
	rm -f "$T/hold.out"
	"$PROBE" -g -c "$cg" "$@" >"$T/hold.out" 2>&1 &
	H=$!
	for _ in $(seq 500); do grep -q "$wait\|error" "$T/hold.out" 2>/dev/null && break; sleep 0.02; done
	grep -q "$wait" "$T/hold.out" || die "$v $1: '$(cat "$T/hold.out")'"
	g=$(awk '/^guard [0-9]/{print $2}' "$T/hold.out")
	sleep 0.05
	kill -KILL "$H"
	wait "$H" 2>/dev/null
	for _ in $(seq 200); do
		st=$(awk '{print $3}' "/proc/$g/stat" 2>/dev/null)
		! frozen_$v "$cg" && { [ -z "$st" ] || [ "$st" = Z ]; } && break
		sleep 0.01
	done
	frozen_$v "$cg" && die "$v $1: guard did not thaw the cgroup"
	[ -z "$st" ] || [ "$st" = Z ] || die "$v $1: guard $g still there"
	for _ in $(seq 100); do
		[ "$(awk '/^TracerPid:/{print $2}' "/proc/$TPID/status")" = 0 ] && break
		sleep 0.02
	done
	assert_running "$TPID"
}

test_cg() {
	local v=$1 cg=$2
	mkdir "$cg" 2>/dev/null || return 1
	CGS+=("$cg")
	start_target tgt_threads 8
	echo "$TPID" >"$cg/cgroup.procs" || die "cannot move $TPID into $cg"
	snapshot "$TPID" "$T/before"
	hold_kill "$v" "$cg" '^frozen' freeze-hold "$TPID" 20
	echo "ok $v: frozen cgroup thawed by the session guard"
	hold_kill "$v" "$cg" '^looping' guard-loop "$TPID" 20
	snapshot "$TPID" "$T/after"
	diff "$T/before" "$T/after" >&2 || die "$v: maps or fds of the target changed"
	echo "ok $v: guarded session in a cgroup repaired"
	kill -KILL "$TPID"
	return 0
}

each_freezer test_cg cm-guard
echo ok
