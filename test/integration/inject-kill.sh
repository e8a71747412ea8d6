#!/bin/bash
# SPDX-License-Identifier: MIT
# A dumper SIGKILLed between injected calls (session open, every thread
# already injected into) leaves no trace: the kernel's auto-detach restarts
# each thread with its own registers and CPU mask, the read() threads keep
# identical registers and still get their data, the spinners go on.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

mkfifo "$T/fifo"
start_target tgt_threads 8 "$T/fifo"
r1=$("$PROBE" regs "$TPID" | grep '^thread') || die "regs before failed"
"$PROBE" inject-hold "$TPID" 30 >"$T/hold.out" 2>&1 &
H=$!
for _ in $(seq 500); do grep -q '^injected' "$T/hold.out" && break; sleep 0.02; done
grep -q '^injected 9 threads' "$T/hold.out" || die "holder: $(cat "$T/hold.out")"
kill -KILL "$H"; wait "$H" 2>/dev/null
sleep 0.2
assert_running "$TPID"
for t in /proc/$TPID/task/*; do
	[ "$(awk '/^TracerPid:/{print $2}' "$t/status")" = 0 ] || die "thread ${t##*/} still traced"
done
r2=$("$PROBE" regs "$TPID" | grep '^thread') || die "regs after failed"
# the read() threads (syscall=0) must be bit-identical; every thread keeps its CPU mask
[ "$(grep ' syscall=0 ' <<<"$r1")" = "$(grep ' syscall=0 ' <<<"$r2")" ] ||
	die "registers of the read() threads changed"
[ "$(grep -o 'cpus=.*' <<<"$r1")" = "$(grep -o 'cpus=.*' <<<"$r2")" ] || die "CPU masks changed"
printf 'klmn' >"$T/fifo"
for _ in $(seq 200); do [ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] && break; sleep 0.05; done
[ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] || die "readers: $(grep reader "$T/tgt_threads.out")"
s1=$(grep '^sum' "$T/tgt_threads.out" | tail -1)
for _ in $(seq 200); do [ "$s1" != "$(grep '^sum' "$T/tgt_threads.out" | tail -1)" ] && break; sleep 0.05; done
[ "$s1" != "$(grep '^sum' "$T/tgt_threads.out" | tail -1)" ] || die "counters stopped"
assert_running "$TPID"
echo ok
