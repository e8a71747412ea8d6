#!/bin/bash
# SPDX-License-Identifier: MIT
# Injection into each of the 9 threads of a target (4 blocked in read(),
# 4 spinning, main in nanosleep) leaves every thread's registers, the maps
# and the fd table intact, and the readers still receive their data.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

fds() { local f; for f in /proc/$1/fd/*; do echo "${f##*/} $(readlink "$f")"; done; }

mkfifo "$T/fifo"
start_target tgt_threads 8 "$T/fifo"
before=$(cat /proc/$TPID/maps; fds "$TPID")
# registers from a plain seize that injects nothing; threads blocked in
# read() (syscall=0) must look exactly the same in a later session
r1=$("$PROBE" regs "$TPID" | grep ' syscall=0 ') || die "regs before failed"
[ "$(wc -l <<<"$r1")" = 4 ] || die "expected 4 threads in read(): $r1"
out=$("$PROBE" inject-all "$TPID") || die "inject session failed: $out"
echo "$out"
[ "$(echo "$out" | grep -c identical)" = 9 ] || die "not 9 identical threads: $(echo "$out" | cut -c1-300)"
after=$(cat /proc/$TPID/maps; fds "$TPID")
[ "$before" = "$after" ] || die "maps or fds changed"
r2=$("$PROBE" regs "$TPID" | grep ' syscall=0 ') || die "regs after failed"
[ "$r1" = "$r2" ] || die "registers of the read() threads differ across sessions"
assert_running "$TPID"
for t in /proc/$TPID/task/*; do
	[ "$(awk '/^TracerPid:/{print $2}' "$t/status")" = 0 ] || die "thread ${t##*/} still traced"
done
printf 'wxyz' >"$T/fifo"
for _ in $(seq 200); do [ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] && break; sleep 0.05; done
[ "$(grep -c '^reader' "$T/tgt_threads.out")" = 4 ] || die "readers: $(grep reader "$T/tgt_threads.out")"
progresses "$T/tgt_threads.out" '^sum' || die "counters stopped"
echo ok
