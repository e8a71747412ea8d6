#!/bin/bash
# SPDX-License-Identifier: MIT
# Every tgt_mem layout round-trips as a new process: dump (the original is
# killed), restore -D DIR -d with the original pid and tids; maps, smaps
# VmFlags and the task state (umask, signal mask and handlers, cwd, exe,
# cmdline, environ, fds) equal the ones at dump time, a re-dump of the
# restored process gives the same task, thread (rseq, robust list,
# clear-tid, altstack, mask) and mm records as its image, and on SIGUSR1 the
# restored target verifies its own memory and prints "ok". Without -d,
# criu-mem waits and passes the exit status on (128+signal when killed).
# The threads mode (8 spinning threads) comes back with every tid.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"
export TGT_MEM_DIR=$T TGT_MEM_VMAS=2000

# restore_mode MODE [HOW]: HOW is detached (-d, default), or criu-mem
# waits (no -d) and the target gets SIGUSR1 (wait), SIGTERM (term: exits 2)
# or SIGKILL (kill).
restore_mode() {
	local mode=$1 how=${2:-detached} dir="$T/img-$1" rpid cm rc
	rm -f "$T/tgt_mem.out" "$T/restored.out" "$T/pid"
	start_target tgt_mem "$mode" 777
	vma_sig "$TPID" >"$T/before"
	task_sig "$TPID" >"$T/task.before"
	ls "/proc/$TPID/task" >>"$T/task.before"
	dump_kill "$TPID" "$dir"
	if [ "$how" = detached ]; then
		"$CRIU_MEM" restore -D "$dir" -d --pidfile "$T/pid" >"$T/restored.out" \
			2>"$T/restore.err" || die "$mode: restore failed: $(cat "$T/restore.err")"
	else
		"$CRIU_MEM" restore -D "$dir" --pidfile "$T/pid" --stdout "$T/restored.out" \
			2>"$T/restore.err" &
		cm=$!
		CHILDREN+=("$cm")
	fi
	rpid=$(wait_pidfile "$T/pid" "${cm:-}") || exit 1
	CHILDREN+=("$rpid")
	[ "$rpid" = "$TPID" ] || die "$mode: restored with pid $rpid, not $TPID"
	assert_running "$rpid"
	vma_sig "$rpid" >"$T/after"
	diff "$T/before" "$T/after" >"$T/maps.diff" ||
		die "$mode: maps/VmFlags differ after restore: $(cat "$T/maps.diff")"
	# A thread interrupted in sigsuspend() shows its temporary mask only
	# once the restored thread has re-entered the call: give it 3 s.
	for _ in $(seq 60); do
		task_sig "$rpid" >"$T/task.after"
		ls "/proc/$rpid/task" >>"$T/task.after"
		diff "$T/task.before" "$T/task.after" >"$T/task.diff" && break
		sleep 0.05
	done
	[ -s "$T/task.diff" ] &&
		die "$mode: task state differs after restore: $(cat "$T/task.diff")"
	redump_compare "$dir" "$rpid"
	if [ "$how" = term ]; then
		kill -TERM "$rpid"
	elif [ "$how" = kill ]; then
		kill -KILL "$rpid"
	else
		kill -USR1 "$rpid"
	fi
	if [ "$how" = detached ]; then
		wait_gone "$rpid"
	else
		wait "$cm"
		rc=$?
		[ "$how" = wait ] && [ "$rc" != 0 ] &&
			die "$mode: criu-mem returned $rc for a target that passed its check"
		# tgt_mem exits 2 on SIGTERM: criu-mem passes that status on.
		[ "$how" = term ] && [ "$rc" != 2 ] && die "$mode: criu-mem returned $rc, not 2"
		[ "$how" = kill ] && [ "$rc" != 137 ] && die "$mode: criu-mem returned $rc, not 137"
	fi
	[ "$how" = term ] || [ "$how" = kill ] || grep -q '^ok$' "$T/restored.out" ||
		die "$mode: restored target's self-check failed: $(cat "$T/restored.out")"
	echo "ok $mode ($how)"
	rm -rf "$dir"
}

for m in anon shared fileprivate fileshared protnone mprotect manyvmas sparse thp memfd; do
	restore_mode "$m"
done
restore_mode anon wait
restore_mode mprotect term
restore_mode memfd kill

restore_mode threads
