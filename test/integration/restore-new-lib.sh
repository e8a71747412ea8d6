# SPDX-License-Identifier: MIT
# Helpers for the new-process restore tests (sourced after test/lib.sh; not
# a test itself).

# vma_sig PID: one line per VMA: "start-end perms offset path VmFlags..."
# (dev and inode left out: shmem/memfd inodes are new after a restore).
vma_sig() {
	awk '
	/^[0-9a-f]+-[0-9a-f]+ / {
		if (line != "") print line " |" flags
		path = ""
		for (i = 6; i <= NF; i++) path = path " " $i
		line = $1 " " $2 " " $3 path
		flags = ""
		next
	}
	/^VmFlags:/ { for (i = 2; i <= NF; i++) flags = flags " " $i }
	END { if (line != "") print line " |" flags }' "/proc/$1/smaps"
}

# wait_pidfile FILE [CM_PID]: up to 20 s for a pid file; prints the pid.
# With CM_PID (a criu-mem running in the background), gives up when it ends.
wait_pidfile() {
	local i
	for i in $(seq 400); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && [ ! -s "$1" ] &&
			die "criu-mem exited without writing $1: $(cat "$T"/restore*.err 2>/dev/null | tail -3)"
		sleep 0.05
	done
	die "no pid file $1 after 20 s: $(cat "$T"/restore*.err 2>/dev/null | tail -3)"
}

# wait_gone PID: up to 20 s for a process that is not our child to end.
wait_gone() {
	local i st
	for i in $(seq 400); do
		st=$(proc_state "$1")
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.05
	done
	die "process $1 still alive after 20 s"
}

# dump_kill PID DIR: dump without --leave-running; the target must be gone
# and reaped, so that its pid is free for the restore.
dump_kill() {
	"$CRIU_MEM" dump -t "$1" -D "$2" --no-fsync --no-progress >"$T/dump.out" 2>"$T/dump.err" ||
		die "dump of $1 failed: $(cat "$T/dump.err")"
	wait "$1" 2>/dev/null
	[ -e "/proc/$1" ] && die "dumped target $1 still exists"
	return 0
}

# Fds above 2 that the test inherited (from a CI runner, an editor...) would
# be inherited by the targets and make their dumps hold fds whose other end
# is outside: close them (bash keeps its own script fd 255 close-on-exec).
close_stray_fds() {
	local f n
	for f in /proc/$$/fd/*; do
		n=${f##*/}
		[ "$n" -gt 2 ] && [ "$n" != 255 ] && eval "exec $n>&-"
	done
	return 0
}
close_stray_fds

# task_sig PID: per-task state a restore must bring back: umask, signal
# mask/handlers/ignored, personality, cwd, exe, cmdline, environ, comm, and
# the fd table above 2 (target, pos, flags; pipe inodes left out: pipes are
# new).
task_sig() {
	local p=$1 f n
	grep -E '^(Umask|SigBlk|SigIgn|SigCgt|NoNewPrivs|Seccomp):' "/proc/$p/status"
	echo "personality $(cat "/proc/$p/personality")"
	echo "cwd $(readlink "/proc/$p/cwd")"
	echo "exe $(readlink "/proc/$p/exe")"
	echo "cmdline $(tr '\0' ' ' <"/proc/$p/cmdline")"
	echo "environ $(tr '\0' '\n' <"/proc/$p/environ" | sort | md5sum)"
	echo "comm $(cat "/proc/$p/comm")"
	for f in /proc/$p/fd/*; do
		n=${f##*/}
		[ "$n" -le 2 ] && continue	# inherited from criu-mem or redirected
		echo "fd $n $(readlink "$f" | sed 's/^pipe:\[[0-9]*\]/pipe/') " \
			"$(grep -E '^(pos|flags):' "/proc/$p/fdinfo/$n" | tr '\n\t' '  ')"
	done | sort -n -k2
}

# core_sig DIR: the task and thread records of an image without registers,
# and the mm record (code/data/brk/stack/args/env, auxv, exe), as decoded.
core_sig() {
	"$CRIU_MEM" decode "$1"/core-*.img | grep -vE '^#|offset|gpregs|fpregs|xstate|fs_base|gs_base'
	# nr_vmas left out: a live interpreter may map or unmap meanwhile.
	"$CRIU_MEM" decode "$1"/mm-*.img | awk '/^record 1 /{exit} !/^#|offset|nr_vmas/{print}'
}

# redump_compare IMG PID: dumps the restored PID (--leave-running) and
# compares what the kernel now reports with the image it came from.
redump_compare() {
	rm -rf "$T/redump"
	"$CRIU_MEM" dump -R -t "$2" -D "$T/redump" --no-fsync --no-progress >/dev/null \
		2>"$T/redump.err" || die "re-dump of $2 failed: $(cat "$T/redump.err")"
	core_sig "$1" >"$T/core.before"
	core_sig "$T/redump" >"$T/core.after"
	diff "$T/core.before" "$T/core.after" >"$T/core.diff" ||
		die "kernel state of $2 differs from its image: $(cat "$T/core.diff")"
}
