#!/bin/bash
# SPDX-License-Identifier: MIT
# Freeze: every thread is in ptrace stop while held and runs after; a
# SIGSTOPped target stays stopped; SIGKILL or SIGINT of the holder leaves
# the target running and untraced.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

# wait_frozen FILE: waits for the holder's "frozen" line
wait_frozen() {
	for _ in $(seq 500); do grep -q '^frozen' "$1" && return 0; sleep 0.02; done
	die "holder did not freeze: $(cat "$1")"
}

states() { cat /proc/$1/task/*/stat | awk '{print $3}' | sort -u | tr -d '\n'; }

start_target tgt_threads 8
"$PROBE" freeze-hold "$TPID" 1 >"$T/hold.out" 2>&1 &
H=$!
wait_frozen "$T/hold.out"
grep -q '^frozen 9 threads' "$T/hold.out" || die "not 9 threads: $(cat "$T/hold.out")"
[ "$(states "$TPID")" = t ] || die "threads not all stopped: $(states "$TPID")"
wait "$H" || die "holder failed: $(cat "$T/hold.out")"
assert_running "$TPID"
echo "9 threads: $(head -1 "$T/hold.out")"

# SIGKILL of the holder: the kernel detaches, the target keeps running
"$PROBE" freeze-hold "$TPID" 20 >"$T/hold.out" 2>&1 &
H=$!
wait_frozen "$T/hold.out"
kill -KILL "$H"; wait "$H" 2>/dev/null
sleep 0.1
assert_running "$TPID"
progresses "$T/tgt_threads.out" '^sum' || die "counters stopped after SIGKILL"

# SIGINT of the holder: it notices, releases, exits
"$PROBE" freeze-hold "$TPID" 20 >"$T/hold.out" 2>&1 &
H=$!
wait_frozen "$T/hold.out"
kill -INT "$H"
for _ in $(seq 500); do kill -0 "$H" 2>/dev/null || break; sleep 0.02; done
wait "$H" 2>/dev/null
grep -q interrupted "$T/hold.out" || die "holder did not see SIGINT: $(cat "$T/hold.out")"
grep -q released "$T/hold.out" || die "holder did not release: $(cat "$T/hold.out")"
assert_running "$TPID"

# a target stopped by SIGSTOP stays stopped after a session
kill -STOP "$TPID"
sleep 0.1
out=$("$PROBE" inject "$TPID") || die "inject on a stopped target failed: $out"
sleep 0.1
[ "$(proc_state "$TPID")" = T ] || die "stopped target not stopped after release: $(proc_state "$TPID")"
[ "$(awk '/^TracerPid:/{print $2}' /proc/$TPID/status)" = 0 ] || die "stopped target still traced"
kill -CONT "$TPID"
sleep 0.1
assert_running "$TPID"
kill "$TPID"

start_target tgt_sleeper nanosleep
echo "1 thread: $("$PROBE" seize "$TPID" | head -1)"
assert_running "$TPID"
echo ok

# threads that appear and vanish during the freeze: all seized ones stop,
# no new thread appears while held, and the target runs on afterwards
start_target tgt_churn
for i in 1 2 3; do "$PROBE" seize "$TPID" >/dev/null || die "churn: seize $i failed"; done
"$PROBE" freeze-hold "$TPID" 1 >"$T/hold.out" 2>&1 &
H=$!
wait_frozen "$T/hold.out"
n1=$(ls /proc/$TPID/task | wc -l)
[ "$(states "$TPID")" = t ] || die "churn: not all threads stopped: $(states "$TPID")"
sleep 0.2
[ "$(ls /proc/$TPID/task | wc -l)" = "$n1" ] || die "churn: threads changed while frozen"
wait "$H" || die "churn: holder failed: $(cat "$T/hold.out")"
assert_running "$TPID"
progresses "$T/tgt_churn.out" '^spawned' || die "churn: target stuck"
echo ok churn
