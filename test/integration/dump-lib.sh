# SPDX-License-Identifier: MIT
# Helpers for the dump tests (sourced after test/lib.sh; not a test itself).

# snapshot PID FILE: what must not change across a --leave-running dump.
snapshot() {
	{ cat "/proc/$1/maps"; ls -l "/proc/$1/fd" | awk '{print $9, $10, $11}'; } >"$2"
}

# regions NAME...: "START:LEN" of tgt_mem's regions whose name is not listed.
regions_except() {
	local out=$1
	shift
	awk -v skip=" $* " '/^region/ && index(skip, " " $2 " ") == 0 { printf "%s:%s ", $3, $4 }' "$out"
}

# imgverify DIR: criu-mem verify when it exists (skipped while not implemented).
imgverify() {
	local out
	out=$("$CRIU_MEM" verify "$1" 2>&1) && return 0
	echo "$out" | grep -q 'not implemented' && return 0
	die "criu-mem verify $1 failed: $out"
}

# check_selftest PID OUT: SIGUSR1, then the target must exit 0 with "ok".
check_selftest() {
	local rc
	kill -USR1 "$1"
	wait "$1"
	rc=$?
	[ "$rc" = 0 ] || die "target $1 self-check failed (rc $rc): $(grep -v '^region' "$2" | tail -5)"
	grep -q '^ok$' "$2" || die "target $1 did not print ok"
}

# dump_mode MODE XFER [DUMP ARGS...]: the full round of checks for one mode.
dump_mode() {
	local mode=$1 xfer=$2 out dir before after full regs
	shift 2
	rm -f "$T/tgt_mem.out"
	start_target tgt_mem "$mode" 1234
	out="$T/tgt_mem.out"
	dir="$T/img-$mode-$xfer"
	snapshot "$TPID" "$T/before"
	"$CRIU_MEM" dump -t "$TPID" -D "$dir" --leave-running --xfer="$xfer" --no-fsync "$@" \
		>"$T/dump.out" 2>"$T/dump.err" || die "dump $mode/$xfer failed: $(cat "$T/dump.err")"
	grep -q "^dump: pid $TPID: frozen" "$T/dump.out" || die "no summary line: $(cat "$T/dump.out")"
	assert_running "$TPID"
	snapshot "$TPID" "$T/after"
	diff "$T/before" "$T/after" >&2 || die "$mode/$xfer: maps or fds of the target changed"
	[ -d "$dir" ] && ! ls -d "$dir".tmp.* 2>/dev/null || die "$mode/$xfer: temp dir left"
	imgverify "$dir"
	# Whole-image comparison, except with busy threads (their stacks move).
	if [ "$mode" != threads ]; then
		"$CM_BUILD/test/cm-imgcheck" "$dir" "$TPID" >"$T/check.out" ||
			die "$mode/$xfer: image differs from the target: $(cat "$T/check.out")"
	fi
	# Region pages: all stored ones equal, none missing (file-backed pages
	# of private mappings and the 64 GiB sparse range are not walked).
	regs=$(regions_except "$out" fileprivate fileshared sparse)
	if [ -n "$regs" ]; then
		# shellcheck disable=SC2086
		"$CM_BUILD/test/cm-imgcheck" -c "$dir" "$TPID" $regs >"$T/check.out" ||
			die "$mode/$xfer: region check failed: $(cat "$T/check.out")"
	fi
	check_selftest "$TPID" "$out"
	echo "ok $mode/$xfer: $(cat "$T/dump.out")"
	rm -rf "$dir"
}

# dump_all_modes XFER: dump_mode for every tgt_mem layout with --xfer=XFER.
dump_all_modes() {
	local m
	export TGT_MEM_DIR=$T
	for m in anon shared fileprivate fileshared protnone mprotect manyvmas sparse thp threads memfd; do
		dump_mode "$m" "$1"
	done
}
