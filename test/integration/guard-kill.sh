#!/bin/bash
# SPDX-License-Identifier: MIT
# The guard process undoes everything when the dumper is SIGKILLed, even in
# the middle of an injected syscall:
#  1. deterministic: cm-probe -g injects a read() on the target's own FIFO
#     into a reader thread and is SIGKILLed while that read blocks; the
#     thread must come back bit-identical and the target's readers still
#     get all their bytes (an injected read left running would eat one).
#  2. SIGKILL at random points of guarded injected-call sessions
#     (scratch mmap, pipe2, close, munmap in every thread) and of
#     `criu-mem dump --xfer=vmsplice --leave-running` of a 256 MiB target.
# After each kill, within 2 s: target running and untraced, maps and fd
# list as before, registers identical, guard gone. Finally the target's
# memory self-check passes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
PROBE="$CM_BUILD/test/cm-probe"
LOOPS=${GUARD_KILL_LOOPS:-12}
DUMPS=${GUARD_KILL_DUMPS:-12}

tracer_of() { awk '/^TracerPid:/{print $2}' "/proc/$1/status" 2>/dev/null; }

# snap PID FILE: maps (a rebuilt binary's " (deleted)" ignored) and fds.
snap() {
	snapshot "$1" "$2"
	sed -i 's/ (deleted)$//' "$2"
}

# wait_line FILE REGEX: up to 5 s for a line in FILE.
wait_line() {
	local i
	for i in $(seq 500); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}

# same_regs WHAT [FILTER]: the target's threads (those matching FILTER) have
# the registers of $r1; retried for 1 s, as a thread just let go may not
# have re-entered its restarted syscall yet.
same_regs() {
	local r2 i
	for i in $(seq 10); do
		r2=$("$PROBE" regs "$TPID" | grep "${2:-^thread}") || die "$1: regs after failed"
		[ "$r1" = "$r2" ] && return 0
		sleep 0.1
	done
	diff <(tr ' ' '\n' <<<"$r1") <(tr ' ' '\n' <<<"$r2") >&2
	die "$1: registers changed"
}

# guard_gone PID: the guard exited (a zombie waiting for init counts).
guard_gone() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

# after_kill WHAT GUARD: within 2 s the guard is gone and the target is
# running, untraced, with the maps and fds of $T/before.
after_kill() {
	local i
	for i in $(seq 200); do
		guard_gone "$2" && [ "$(tracer_of "$TPID")" = 0 ] && break
		sleep 0.01
	done
	guard_gone "$2" || die "$1: guard $2 still there after 2 s"
	assert_running "$TPID"
	snap "$TPID" "$T/after"
	diff "$T/before" "$T/after" >&2 || die "$1: maps or fds of the target changed"
}

# ---- 1. killed in the middle of an injected read() ----
mkfifo "$T/fifo"
start_target tgt_threads 8 "$T/fifo"
tid=
for t in /proc/"$TPID"/task/*; do
	[ "${t##*/}" != "$TPID" ] && [ "$(cut -d' ' -f1 "$t/syscall")" = 0 ] && tid=${t##*/} && break
done
[ -n "$tid" ] || die "no reader thread"
fd=$(find "/proc/$TPID/fd" -lname "$T/fifo" -printf '%f\n' | head -1)
[ -n "$fd" ] || die "no fifo fd"
snap "$TPID" "$T/before"
r1=$("$PROBE" regs "$TPID" | grep "^thread $tid ") || die "regs before failed"
"$PROBE" -g guard-block "$TPID" "$tid" "$fd" >"$T/block.out" 2>&1 &
P=$!
wait_line "$T/block.out" '^blocking' || die "guard-block: $(cat "$T/block.out")"
tramp=$(awk '/^tramp/{print $2}' "$T/block.out")
G=$(awk '/^guard [0-9]/{print $2}' "$T/block.out")
# the thread sleeps in read() (nr 0) called from the trampoline (pc = tramp + 2)
for _ in $(seq 200); do
	read -r nr _ _ _ _ _ _ _ pc <"/proc/$TPID/task/$tid/syscall"
	[ "$nr" = 0 ] && [ "$((pc))" = "$((tramp + 2))" ] && break
	sleep 0.01
done
[ "$nr" = 0 ] && [ "$((pc))" = "$((tramp + 2))" ] ||
	die "thread $tid not blocked in the injected read: $(cat "/proc/$TPID/task/$tid/syscall")"
kill -KILL "$P"
wait "$P" 2>/dev/null
after_kill "mid-read" "$G"
same_regs "mid-read" "^thread $tid "
printf 'klmn' >"$T/fifo"
for _ in $(seq 200); do [ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] && break; sleep 0.02; done
[ "$(grep -c '^reader [0-9]* got [klmn]$' "$T/tgt_threads.out")" = 4 ] ||
	die "readers: $(grep reader "$T/tgt_threads.out")"
assert_running "$TPID"
echo "ok: killed mid-read at $tramp+2, thread $tid put back, 4 readers got their bytes"
kill -KILL "$TPID"

# ---- 2. random kills: injected-call sessions, then vmsplice dumps ----
start_target tgt_mem big 77 256
snap "$TPID" "$T/before"
r1=$("$PROBE" regs "$TPID" | grep '^thread') || die "regs before failed"
for i in $(seq "$LOOPS"); do
	rm -f "$T/loop.out"	# (the background redirection truncates it late)
	"$PROBE" -g guard-loop "$TPID" 30 >"$T/loop.out" 2>&1 &
	P=$!
	wait_line "$T/loop.out" '^looping' || die "guard-loop: $(cat "$T/loop.out")"
	G=$(awk '/^guard [0-9]/{print $2}' "$T/loop.out")
	sleep "0.0$((RANDOM % 90 + 10))"
	kill -KILL "$P"
	wait "$P" 2>/dev/null
	after_kill "session kill $i" "$G"
	same_regs "session kill $i"
done
echo "ok: $LOOPS random kills of injected-call sessions"
# Past a point of no return (-S: guard_set_death_signal(SIGSTOP)) the
# repaired target is left group-stopped instead of running.
rm -f "$T/loop.out"
"$PROBE" -g -S guard-loop "$TPID" 30 >"$T/loop.out" 2>&1 &
P=$!
wait_line "$T/loop.out" '^looping' || die "guard-loop -S: $(cat "$T/loop.out")"
G=$(awk '/^guard [0-9]/{print $2}' "$T/loop.out")
sleep 0.05
kill -KILL "$P"
wait "$P" 2>/dev/null
for _ in $(seq 200); do guard_gone "$G" && [ "$(proc_state "$TPID")" = T ] && break; sleep 0.01; done
[ "$(proc_state "$TPID")" = T ] || die "-S: target not stopped (state $(proc_state "$TPID"))"
[ "$(tracer_of "$TPID")" = 0 ] || die "-S: target still traced"
snap "$TPID" "$T/after"
diff "$T/before" "$T/after" >&2 || die "-S: maps or fds of the target changed"
kill -CONT "$TPID"
assert_running "$TPID"
echo "ok: death signal SIGSTOP"
# how long a whole dump takes here: kills land in [0, 90 %] of it
t0=$(date +%s%N)
"$CRIU_MEM" dump -t "$TPID" -D "$T/d" --leave-running --xfer=vmsplice --no-fsync \
	--no-progress >/dev/null 2>"$T/err" || die "full dump failed: $(cat "$T/err")"
span=$((($(date +%s%N) - t0) / 1000000 * 9 / 10))
rm -rf "$T/d"
hits=0
for i in $(seq "$DUMPS"); do
	"$CRIU_MEM" dump -t "$TPID" -D "$T/d" --leave-running --xfer=vmsplice --no-fsync \
		--no-progress >/dev/null 2>"$T/err" &
	P=$!
	for _ in $(seq 400); do [ "$(tracer_of "$TPID")" = "$P" ] && break; sleep 0.005; done
	G=$(pgrep -P "$P" | head -1)
	if [ -z "$G" ]; then
		# a slow poll on a loaded machine can miss a whole dump
		st=$(proc_state "$P")
		[ -z "$st" ] || [ "$st" = Z ] || die "dump $i: no guard process: $(cat "$T/err")"
		wait "$P" || die "dump $i failed: $(cat "$T/err")"
		rm -rf "$T/d"
		continue
	fi
	ms=$((RANDOM % (span + 1)))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$P" 2>/dev/null && hits=$((hits + 1))
	wait "$P" 2>/dev/null
	after_kill "dump kill $i" "$G"
	same_regs "dump kill $i"
	rm -rf "$T/d" "$T"/d.tmp.*
done
[ "$hits" -ge $((DUMPS / 2)) ] || die "only $hits of $DUMPS dumps were killed before they ended"
echo "ok: $hits random kills of $DUMPS vmsplice dumps (0-$span ms after the seize)"
check_selftest "$TPID" "$T/tgt_mem.out"

# ---- 3. early kills (core capture: injected calls in every thread) ----
start_target tgt_threads 8 "$T/fifo"
snap "$TPID" "$T/before"
r1=$("$PROBE" regs "$TPID" | grep ' syscall=0 ') || die "regs before failed"
for i in $(seq "$DUMPS"); do
	"$CRIU_MEM" dump -t "$TPID" -D "$T/d" --leave-running --xfer=vmsplice --no-fsync \
		--no-progress >/dev/null 2>"$T/err" &
	P=$!
	for _ in $(seq 400); do [ "$(tracer_of "$TPID")" = "$P" ] && break; sleep 0.002; done
	G=$(pgrep -P "$P" | head -1)
	sleep "0.0$(printf %02d $((RANDOM % 30)))"
	kill -KILL "$P" 2>/dev/null
	wait "$P" 2>/dev/null
	[ -n "$G" ] && after_kill "early dump kill $i" "$G"
	same_regs "early dump kill $i (read() threads)" ' syscall=0 '
	rm -rf "$T/d" "$T"/d.tmp.*
done
printf 'klmn' >"$T/fifo"
for _ in $(seq 200); do [ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] && break; sleep 0.02; done
[ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] ||
	die "readers after early kills: $(grep reader "$T/tgt_threads.out")"
assert_running "$TPID"
echo "ok: $DUMPS early kills of dumps of an 8-thread target"
echo ok
