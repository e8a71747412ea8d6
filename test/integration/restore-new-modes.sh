#!/bin/bash
# SPDX-License-Identifier: MIT
# Every single-threaded tgt_mem layout round-trips as a new process: dump
# (the original is killed), restore -D DIR -d with the original pid, the
# maps and smaps VmFlags equal the ones at dump time, and on SIGUSR1 the
# restored target verifies its own memory and prints "ok". The threads mode
# is refused with a clear message and nothing is left behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"
export TGT_MEM_DIR=$T TGT_MEM_VMAS=2000

restore_mode() {
	local mode=$1 dir="$T/img-$1" rpid
	rm -f "$T/tgt_mem.out" "$T/restored.out" "$T/pid"
	start_target tgt_mem "$mode" 777
	vma_sig "$TPID" >"$T/before"
	dump_kill "$TPID" "$dir"
	"$CRIU_MEM" restore -D "$dir" -d --pidfile "$T/pid" >"$T/restored.out" \
		2>"$T/restore.err" || die "$mode: restore failed: $(cat "$T/restore.err")"
	rpid=$(wait_pidfile "$T/pid")
	CHILDREN+=("$rpid")
	[ "$rpid" = "$TPID" ] || die "$mode: restored with pid $rpid, not $TPID"
	assert_running "$rpid"
	vma_sig "$rpid" >"$T/after"
	diff "$T/before" "$T/after" >"$T/maps.diff" ||
		die "$mode: maps/VmFlags differ after restore: $(cat "$T/maps.diff")"
	[ "$(readlink "/proc/$rpid/exe")" = "$TARGETS/tgt_mem" ] ||
		die "$mode: /proc/$rpid/exe is $(readlink "/proc/$rpid/exe")"
	kill -USR1 "$rpid"
	wait_gone "$rpid"
	grep -q '^ok$' "$T/restored.out" ||
		die "$mode: restored target's self-check failed: $(cat "$T/restored.out")"
	echo "ok $mode"
	rm -rf "$dir"
}

for m in anon shared fileprivate fileshared protnone mprotect manyvmas sparse thp memfd; do
	restore_mode "$m"
done

# Several threads: refused before anything is created.
start_target tgt_mem threads 777
dump_kill "$TPID" "$T/img-threads"
"$CRIU_MEM" restore -D "$T/img-threads" -d --pidfile "$T/pid-thr" >"$T/thr.out" 2>"$T/thr.err" &&
	die "multi-threaded image restored as a new process"
grep -q 'multi-threaded new-process restore is not supported yet: 9 threads' "$T/thr.err" ||
	die "no clear refusal: $(cat "$T/thr.err")"
[ -e "$T/pid-thr" ] && die "pid file written by a refused restore"
[ -e "/proc/$TPID" ] && die "a process with the image's pid exists after the refusal"
echo "ok threads refused"
