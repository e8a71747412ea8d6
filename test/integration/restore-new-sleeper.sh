#!/bin/bash
# SPDX-License-Identifier: MIT
# tgt_sleeper as a new process: a relative nanosleep interrupted at dump
# time (ERESTART_RESTARTBLOCK: the restart block does not travel, the sleep
# is restarted) keeps ticking with no gap or repeat, its SA_ONSTACK handlers
# run on the restored signal stack (a static array across two VMAs), the
# SA_SIGINFO one for SIGRTMIN+1 too. The spin mode keeps counting.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"

start_target tgt_sleeper nanosleep
sleep 0.2
dump_kill "$TPID" "$T/img"
last=$(grep '^tick' "$T/tgt_sleeper.out" | tail -1 | cut -d' ' -f2)
"$CRIU_MEM" restore -D "$T/img" -d --pidfile "$T/pid" --stdout "$T/restored.out" \
	2>"$T/restore.err" || die "restore failed: $(cat "$T/restore.err")"
rpid=$(cat "$T/pid")
CHILDREN+=("$rpid")
assert_running "$rpid"
for i in $(seq 200); do
	[ "$(grep -c '^tick' "$T/restored.out")" -ge 5 ] && break
	sleep 0.05
done
kill -USR1 "$rpid"
for i in $(seq 100); do grep -q '^usr1' "$T/restored.out" && break; sleep 0.05; done
grep -q '^usr1' "$T/restored.out" || die "SIGUSR1 handler did not run: $(cat "$T/restored.out")"
kill -s RTMIN+1 "$rpid"
for i in $(seq 100); do grep -q '^rt ' "$T/restored.out" && break; sleep 0.05; done
grep -q '^rt ' "$T/restored.out" || die "SIGRTMIN+1 handler did not run: $(cat "$T/restored.out")"
assert_running "$rpid"
kill -KILL "$rpid"
wait_gone "$rpid"
cat "$T/tgt_sleeper.out" "$T/restored.out" | grep '^tick' |
	awk 'NR == 1 { n = $2; next } $2 != n + 1 { print "after tick " n ": tick " $2; bad = 1 }
	     { n = $2 } END { exit bad }' >"$T/ticks" || die "ticks broken: $(cat "$T/ticks")"
first=$(grep '^tick' "$T/restored.out" | head -1 | cut -d' ' -f2)
[ "$first" = $((last + 1)) ] || die "restored ticking started at $first after $last"
echo "ok nanosleep: tick $last at dump, $first first after restore; handlers on the altstack"

start_target tgt_sleeper spin
sleep 0.2
dump_kill "$TPID" "$T/img2"
"$CRIU_MEM" restore -D "$T/img2" -d --pidfile "$T/pid2" --stdout "$T/restored2.out" \
	2>"$T/restore2.err" || die "spin restore failed: $(cat "$T/restore2.err")"
rpid=$(cat "$T/pid2")
CHILDREN+=("$rpid")
for i in $(seq 200); do
	[ "$(grep -c '^count' "$T/restored2.out")" -ge 3 ] && break
	sleep 0.05
done
[ "$(grep -c '^count' "$T/restored2.out")" -ge 3 ] || die "restored spinner does not count"
kill -KILL "$rpid"
wait_gone "$rpid"
echo "ok spin"
