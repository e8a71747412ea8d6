#!/bin/bash
# SPDX-License-Identifier: MIT
# In-place restore SIGKILLed at random points: a 256 MiB tgt_mem is dumped
# (--leave-running), scrambled, and `criu-mem -vv restore -t` is killed
# 0-8 ms after its guard started (around the seize and the point of no
# return), then 0-90 % of a measured restore time after it seized the
# target. Within 2 s
# the guard is gone and the target is untraced, and either
#  - running with the scrambled layout unchanged (killed before the point of
#    no return; the log must not say the guard was armed), or
#  - stopped (state T) after the point of no return, never running with
#    half-restored memory (running with another layout is allowed only when
#    the log says the restore was complete and the guard disarmed).
# A complete restore then makes the self-check pass. Last, a kill right
# after the guard was armed with --kill-on-error must kill the target.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"
KILLS=${RESTORE_KILL_LOOPS:-8}
EARLY=${RESTORE_KILL_EARLY:-8}
export TGT_MEM_DIR="$T"
OUT="$T/tgt_mem.out"

tracer_of() { awk '/^TracerPid:/{print $2}' "/proc/$1/status" 2>/dev/null; }

# guard_gone PID: the guard exited (a zombie waiting for init counts).
guard_gone() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

# scramble: SIGUSR2, wait for one more "scrambled" line, save the layout.
scramble() {
	local n i
	n=$(grep -c '^scrambled' "$OUT")
	kill -USR2 "$TPID"
	for i in $(seq 400); do
		[ "$(grep -c '^scrambled' "$OUT")" -gt "$n" ] && break
		sleep 0.05
	done
	[ "$(grep -c '^scrambled' "$OUT")" -gt "$n" ] || die "target did not scramble"
	layout "$TPID" >"$T/layout.scrambled"
	cmp -s "$T/layout.dump" "$T/layout.scrambled" && die "scramble changed no VMA"
}

# full_restore WHAT: a complete restore; the target runs with the dump layout.
# A stopped target stays stopped (it may pass through R on the release).
full_restore() {
	local was i
	was=$(proc_state "$TPID")
	"$CRIU_MEM" restore -t "$TPID" -D "$T/img" --no-progress >"$T/full.out" 2>"$T/full.err" ||
		die "$1: restore failed: $(cat "$T/full.err")"
	if [ "$was" = T ]; then
		for i in $(seq 200); do [ "$(proc_state "$TPID")" = T ] && break; sleep 0.01; done
		[ "$(proc_state "$TPID")" = T ] || die "$1: the stopped target was not left stopped"
		kill -CONT "$TPID"
	fi
	assert_running "$TPID"
	layout "$TPID" >"$T/layout.now"
	diff "$T/layout.dump" "$T/layout.now" >&2 || die "$1: layout differs from the dump's"
}

# start_restore [OPTS]: criu-mem -vv restore in the background; P, G set once
# it has seized the target (G: its guard). SEIZED=0 when the restore was
# already over before the seize could be seen.
start_restore() {
	local i
	"$CRIU_MEM" -vv restore -t "$TPID" -D "$T/img" --no-progress "$@" >/dev/null 2>"$T/err" &
	P=$!
	for i in $(seq 2000); do
		[ "$(tracer_of "$TPID")" = "$P" ] && break
		kill -0 "$P" 2>/dev/null || break
		sleep 0.002
	done
	SEIZED=1
	if [ "$(tracer_of "$TPID")" != "$P" ]; then
		# A short restore can seize, finish and exit between two polls.
		kill -0 "$P" 2>/dev/null && die "restore never seized pid $TPID: $(tail -3 "$T/err")"
		SEIZED=0 G=""
		return 0
	fi
	G=$(pgrep -P "$P" | head -1)
	[ -n "$G" ] || die "restore $P has no guard process"
}

# settle WHAT: after the kill, within 2 s the guard is gone and the target
# untraced (and stopped, when the guard was armed).
settle() {
	local i
	for i in $(seq 200); do
		if guard_gone "$G" && [ "$(tracer_of "$TPID")" = 0 ]; then
			! grep -q 'guard armed' "$T/err" || grep -q 'guard disarmed' "$T/err" ||
				[ "$(proc_state "$TPID")" = T ] || ! kill -0 "$TPID" 2>/dev/null && return 0
		fi
		sleep 0.01
	done
	guard_gone "$G" || die "$1: guard $G still there after 2 s"
	[ "$(tracer_of "$TPID")" = 0 ] || die "$1: target still traced by $(tracer_of "$TPID")"
	die "$1: guard was armed but target is in state $(proc_state "$TPID"): $(tail -3 "$T/err")"
}

start_target tgt_mem big 0x5eed 256
layout "$TPID" >"$T/layout.dump"
"$CRIU_MEM" dump -t "$TPID" -D "$T/img" --leave-running --no-fsync --no-progress \
	>/dev/null 2>"$T/err" || die "dump failed: $(cat "$T/err")"
scramble
# how long a restore runs once the target is seized: kills land in [0, 90 %] of it
start_restore
t0=$(date +%s%N)
wait "$P" || die "measuring restore failed: $(tail -3 "$T/err")"
span=$((($(date +%s%N) - t0) / 1000000 * 9 / 10))
assert_running "$TPID"
scramble

# stop_state PID: T when stopped or about to stop (a SIGSTOP pending: the
# guard is gone, so whatever it sent is queued), else its state. State is
# read before and after the pending set: a SIGSTOP is dequeued and the task
# stopped under one lock.
stop_state() {
	local a b p m
	a=$(proc_state "$1")
	p=$(awk '/^(SigPnd|ShdPnd):/{print $2}' "/proc/$1/status" 2>/dev/null)
	b=$(proc_state "$1")
	for m in $p; do
		[ $((0x$m & (1 << 18))) = 0 ] || { echo T; return; }
	done
	[ "$a" = T ] || [ "$b" = T ] && { echo T; return; }
	echo "$b"
}

# judge WHAT: after the kill of $P (guard $G, exit status $RC), one of the
# three outcomes above.
judge() {
	local st
	if [ "$RC" = 0 ]; then	# finished before the kill
		done=$((done + 1))
		full_restore "$1 (finished)"
		scramble
		return
	fi
	settle "$1"
	st=$(stop_state "$TPID")
	if [ "$st" = T ]; then
		post=$((post + 1))
		for _ in $(seq 200); do [ "$(proc_state "$TPID")" = T ] && break; sleep 0.01; done
		[ "$(proc_state "$TPID")" = T ] || die "$1: SIGSTOP pending for 2 s"
		[ "$(tracer_of "$TPID")" = 0 ] || die "$1: stopped target still traced"
		full_restore "$1, after stop"
		scramble
	elif grep -q 'guard disarmed' "$T/err"; then
		done=$((done + 1))	# killed after the last step: restored, runs on
		assert_running "$TPID"
		full_restore "$1, after disarm"
		scramble
	else
		grep -q 'guard armed' "$T/err" && die "$1: armed, yet state $st"
		pre=$((pre + 1))
		grep -q 'thread(s) stopped' "$T/err" && seized=$((seized + 1))
		[ "$(tracer_of "$TPID")" = "$P" ] && die "$1: still traced by the dead restore"
		assert_running "$TPID"
		layout "$TPID" >"$T/layout.now"
		diff "$T/layout.scrambled" "$T/layout.now" >&2 ||
			die "$1: target runs with a changed layout before the point of no return"
	fi
}

pre=0 post=0 done=0 seized=0
# Early kills: 0-2 ms (odd i) or 0-8 ms after the guard appears, around the
# seize and the point of no return (~3 ms apart here). Python starts the
# restore and polls for the guard.
for i in $(seq "$EARLY"); do
	us=$((RANDOM % (i % 2 ? 2000 : 8000)))
	read -r P G RC < <(python3 - "$us" "$CRIU_MEM" -vv restore -t "$TPID" -D "$T/img" \
		--no-progress 2>"$T/err" <<'PY'
import os, subprocess, sys, time
us = int(sys.argv[1])
c = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
path = "/proc/%d/task/%d/children" % (c.pid, c.pid)
kid = "0"
while c.poll() is None:
    try:
        kids = open(path).read().split()
    except OSError:
        break
    if kids:
        kid = kids[0]
        t = time.perf_counter() + us / 1e6
        while time.perf_counter() < t:
            pass
        os.kill(c.pid, 9)
        break
print(c.pid, kid, c.wait())
PY
)
	[ "$G" != 0 ] || die "early kill $i: restore $P never started a guard: $(tail -3 "$T/err")"
	judge "early kill $i at ${us} us"
done
echo "ok: $EARLY kills 0-2/0-8 ms after the guard started: $pre before the point of no return" \
	"(running, untouched; $seized of them after the seize), $post after (stopped)"
[ "$pre" -ge 1 ] || die "no early kill landed before the point of no return"
pre=0 post=0 done=0
for i in $(seq "$KILLS"); do
	start_restore
	if [ "$SEIZED" = 0 ]; then
		wait "$P"
		RC=$?
		[ "$RC" = 0 ] || die "kill $i: restore failed before any kill: $(tail -3 "$T/err")"
		judge "kill $i (restore over before the kill)"
		continue
	fi
	ms=$((RANDOM % (span + 1)))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$P" 2>/dev/null
	wait "$P" 2>/dev/null
	RC=$?
	judge "kill $i at ${ms} ms"
done
echo "ok: $KILLS kills 0-$span ms after the seize: $pre before the point of no return," \
	"$post after (stopped), $done after the restore"
# (a loaded machine may stretch the measured time a lot)
[ $((pre + post)) -ge $((KILLS / 4)) ] || die "too few kills landed during the restore"

# The scrambled target fails its self-check (control), then a restore fixes it.
full_restore "final"
selftest "$TPID" "$OUT" 0
grep -q '^ok$' "$OUT" || die "final: target did not print ok"
echo "ok: complete restore after the kills, self-check passes"

# --kill-on-error: killed right after the point of no return, the target dies.
start_target tgt_mem big 0x5eed 64
"$CRIU_MEM" dump -t "$TPID" -D "$T/img2" --leave-running --no-fsync --no-progress \
	>/dev/null 2>"$T/err" || die "dump 2 failed: $(cat "$T/err")"
kill -USR2 "$TPID"
wait_line "$OUT" '^scrambled'
"$CRIU_MEM" -vv restore -t "$TPID" -D "$T/img2" --no-progress --kill-on-error >/dev/null 2>"$T/err" &
P=$!
for _ in $(seq 2000); do grep -q 'guard armed' "$T/err" && break; kill -0 "$P" 2>/dev/null || break; sleep 0.001; done
G=$(pgrep -P "$P" | head -1)
kill -KILL "$P" 2>/dev/null
wait "$P" 2>/dev/null && skip "restore 2 ended before the kill"
grep -q 'guard armed with signal 9' "$T/err" || die "--kill-on-error: not armed with SIGKILL: $(tail -3 "$T/err")"
[ -n "$G" ] || die "--kill-on-error: no guard"
for _ in $(seq 200); do guard_gone "$G" && [ "$(proc_state "$TPID")" = Z ] && break; sleep 0.01; done
guard_gone "$G" || die "--kill-on-error: guard still there"
wait "$TPID"
rc=$?
[ "$rc" = 137 ] || die "--kill-on-error: target exit status $rc, expected 137 (SIGKILL)"
echo "ok: --kill-on-error, killed past the point of no return: target SIGKILLed"
echo ok
