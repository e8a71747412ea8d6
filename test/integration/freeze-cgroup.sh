#!/bin/bash
# SPDX-License-Identifier: MIT
# --freeze-cgroup: v2 (cgroup.freeze) and v1 (freezer.state). Injection works
# (cgroup thawed, threads still ptrace-stopped); a SIGKILLed holder's guard
# thaws the cgroup and the target runs untraced.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

CGS=()
cg_cleanup() {
	local c
	cleanup
	for c in "${CGS[@]}"; do
		[ -e "$c/cgroup.freeze" ] && echo 0 >"$c/cgroup.freeze"
		[ -e "$c/freezer.state" ] && echo THAWED >"$c/freezer.state"
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -KILL "$p"; done
		sleep 0.1
		rmdir "$c" 2>/dev/null
	done
}
trap cg_cleanup EXIT

frozen_v2() { grep -q '^frozen 1' "$1/cgroup.events"; }
frozen_v1() { grep -q FROZEN "$1/freezer.state"; }

test_cg() {
	local v=$1 cg=$2
	mkdir "$cg" 2>/dev/null || return 1
	CGS+=("$cg")
	start_target tgt_threads 8
	echo "$TPID" >"$cg/cgroup.procs" || die "cannot move $TPID into $cg"
	out=$("$PROBE" -c "$cg" inject-all "$TPID") || die "$v: inject-all failed: $out"
	[ "$(echo "$out" | grep -c identical)" = 9 ] || die "$v: registers changed: $(echo "$out" | cut -c1-300)"
	echo "$v: $(head -1 <<<"$out")"
	frozen_$v "$cg" && die "$v: cgroup left frozen"
	assert_running "$TPID"

	"$PROBE" -c "$cg" freeze-hold "$TPID" 20 >"$T/hold.out" 2>&1 &
	H=$!
	for _ in $(seq 1500); do grep -q '^frozen\|error' "$T/hold.out" && break; sleep 0.02; done
	grep -q '^frozen' "$T/hold.out" ||
		die "$v: holder did not freeze: '$(cat "$T/hold.out")', state: $(cat "$cg/cgroup.events" "$cg/freezer.state" 2>/dev/null | tr '\n' ' ')"
	if [ "$v" = v2 ]; then
		frozen_v2 "$cg" || die "v2: cgroup not frozen while held"
	fi
	kill -KILL "$H"; wait "$H" 2>/dev/null
	for _ in $(seq 500); do frozen_$v "$cg" || break; sleep 0.02; done
	frozen_$v "$cg" && die "$v: guard did not thaw the cgroup"
	sleep 0.1
	assert_running "$TPID"
	kill -KILL "$TPID"
	return 0
}

each_freezer test_cg cm-test
echo ok
