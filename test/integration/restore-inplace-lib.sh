# SPDX-License-Identifier: MIT
# Helpers for the in-place restore tests (sourced after test/lib.sh; not a test itself).

# layout PID: maps lines (range, perms, offset, path) with their smaps VmFlags,
# without [vdso]/[vvar]/[vsyscall]. Device and inode are left out: a
# recreated shared object is a new inode.
layout() {
	awk '/^[0-9a-f]+-[0-9a-f]+ /{ a = $1 " " $2 " " $3 " " $6 }
	     /^VmFlags:/{ $1 = ""; print a " |" $0 }' "/proc/$1/smaps" |
		grep -v -e '\[vdso\]' -e '\[vvar' -e '\[vsyscall\]'
}

# wait_line FILE PATTERN: up to 20 s for a line matching PATTERN.
wait_line() {
	local i
	for i in $(seq 400); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	die "no '$2' in $1 after 20 s: $(tail -3 "$1")"
}

# diag PID: why a target does not answer (state and wchan of every thread).
diag() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "  task ${t##*/}: $(awk '{print $3}' "$t/stat" 2>/dev/null) wchan" \
			"$(cat "$t/wchan" 2>/dev/null) $(tr '\0' ' ' <"$t/syscall" 2>/dev/null)"
	done
	grep -E 'SigBlk|SigPnd|ShdPnd|TracerPid' "/proc/$1/status"
}

# selftest PID OUT WANT_RC: SIGUSR1, the target must exit WANT_RC within 20 s.
selftest() {
	local rc i
	kill -USR1 "$1"
	for i in $(seq 400); do
		kill -0 "$1" 2>/dev/null && [ "$(proc_state "$1")" != Z ] || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null && [ "$(proc_state "$1")" != Z ]; then
		diag "$1" >&2
		die "target $1 did not exit 20 s after SIGUSR1"
	fi
	wait "$1"
	rc=$?
	[ "$rc" = "$3" ] || die "target $1 self-check exited $rc, expected $3: $(grep -v '^region' "$2" | tail -5)"
}

# roundtrip MODE [TGT ARGS...]: dump, scramble, restore in place, compare the
# layout with the one at dump time, and let the target check its memory.
roundtrip() {
	local mode=$1 out dir
	shift
	start_target tgt_mem "$mode" 4321 "$@"
	out="$T/tgt_mem.out"
	dir="$T/img-$mode"
	layout "$TPID" >"$T/layout.dump"
	"$CRIU_MEM" dump -t "$TPID" -D "$dir" --leave-running --no-fsync --no-progress \
		>"$T/dump.out" 2>"$T/dump.err" || die "dump $mode failed: $(cat "$T/dump.err")"
	kill -USR2 "$TPID"
	wait_line "$out" '^scrambled'
	layout "$TPID" >"$T/layout.scrambled"
	cmp -s "$T/layout.dump" "$T/layout.scrambled" && die "$mode: scramble changed no VMA"
	"$CRIU_MEM" restore -t "$TPID" -D "$dir" --no-progress >"$T/restore.out" 2>"$T/restore.err" ||
		die "restore $mode failed: $(cat "$T/restore.err")"
	grep -q "^restored pid $TPID: " "$T/restore.out" || die "$mode: no summary: $(cat "$T/restore.out")"
	assert_running "$TPID"
	layout "$TPID" >"$T/layout.restored"
	diff "$T/layout.dump" "$T/layout.restored" >&2 ||
		die "$mode: layout after restore differs from the one at dump time"
	if [ "$mode" = thp ]; then	# the region is huge again (it never stopped being, or collapsed)
		read -r _ _ start _ < <(grep '^region thp ' "$out")
		awk -v s="$(printf '%x' "$start")" '$1 ~ "^"s"-" {f = 1} f && /^AnonHugePages:/ {print $2; exit}' \
			"/proc/$TPID/smaps" >"$T/thp"
		[ "$(cat "$T/thp")" -gt 0 ] || die "thp: no AnonHugePages after restore"
	fi
	selftest "$TPID" "$out" 0
	grep -q '^ok$' "$out" || die "$mode: target did not print ok"
	echo "ok $mode: $(cat "$T/restore.out")"
	rm -rf "$dir"
}
