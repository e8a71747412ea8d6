#!/bin/bash
# SPDX-License-Identifier: MIT
# Injection leaves no trace on a target sleeping in read(), one in
# nanosleep() and one spinning: maps, fds and registers (all GPRs + xstate)
# are identical, the target runs untraced and its own work is intact.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

fds() { local f; for f in /proc/$1/fd/*; do echo "${f##*/} $(readlink "$f")"; done; }

snapshot() { cat /proc/$1/maps; fds "$1"; }

run_mode() {
	local mode=$1 before after r1 r2 n1 n2
	shift
	start_target tgt_sleeper "$mode" "$@"
	before=$(snapshot "$TPID")
	r1=$("$PROBE" regs "$TPID" | grep '^thread') || die "$mode: regs before failed"
	out=$("$PROBE" inject "$TPID") || die "$mode: inject session failed: $out"
	echo "$out" | grep -q "thread $TPID identical" || die "$mode: registers changed: $(echo "$out" | cut -c1-300)"
	after=$(snapshot "$TPID")
	[ "$before" = "$after" ] || die "$mode: maps or fds changed: $(diff <(echo "$before") <(echo "$after"))"
	assert_running "$TPID"
	if [ "$mode" = read ]; then
		# the thread sits in the same restarted read(): same registers across sessions
		r2=$("$PROBE" regs "$TPID" | grep '^thread') || die "read: regs after failed"
		[ "$r1" = "$r2" ] || die "read: registers differ across sessions"
		echo "payload-42" >"$1"
		for _ in $(seq 200); do grep -q '^got' "$T/tgt_sleeper.out" && break; sleep 0.05; done
		grep -q '^got payload-42$' "$T/tgt_sleeper.out" || die "read: data not received: $(cat "$T/tgt_sleeper.out")"
		wait "$TPID" || die "read: target exited with $?"
	else
		progresses "$T/tgt_sleeper.out" '^[a-z]* [0-9]' ||
			die "$mode: target made no progress after the session"
		! grep -q failed "$T/tgt_sleeper.out" || die "$mode: target saw a failed syscall"
		assert_running "$TPID"
		kill "$TPID"
	fi
	echo "ok $mode"
}

mkfifo "$T/fifo"
run_mode read "$T/fifo"
run_mode nanosleep
run_mode spin
