#!/bin/bash
# SPDX-License-Identifier: MIT
# The host's vdso block is moved to the image's addresses whatever their
# distance: the same address (both without ASLR), and an overlapping one
# (without ASLR, the stack rlimit shifts mmap_base by 8 KiB, less than the
# 32 KiB block, so the move goes through a free spot).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"
command -v setarch >/dev/null || skip "no setarch"
setarch -R true 2>/dev/null || skip "setarch -R not permitted"

# vdso_case NAME TARGET_STACK_KB RESTORER_STACK_KB
vdso_case() {
	local name=$1 ts=$2 rs=$3 tp rpid
	rm -rf "$T/img" "$T/pid" "$T/out"
	(ulimit -s "$ts" && exec setarch -R "$TARGETS/tgt_mem" anon 5 >"$T/out" 2>&1 </dev/null) &
	tp=$!
	CHILDREN+=("$tp")
	for i in $(seq 200); do grep -q '^ready' "$T/out" && break; sleep 0.05; done
	grep -E '\[(vdso|vvar|vvar_vclock)\]' "/proc/$tp/maps" >"$T/vdso.before"
	dump_kill "$tp" "$T/img"
	(ulimit -s "$rs" && setarch -R bash -c 'grep "\[vdso\]" /proc/self/maps' &&
	 exec setarch -R "$CRIU_MEM" restore -D "$T/img" -d --pidfile "$T/pid") \
		>"$T/restored.out" 2>"$T/restore.err" || die "$name: restore failed: $(cat "$T/restore.err")"
	rpid=$(cat "$T/pid")
	CHILDREN+=("$rpid")
	grep -E '\[(vdso|vvar|vvar_vclock)\]' "/proc/$rpid/maps" | diff "$T/vdso.before" - >&2 ||
		die "$name: vdso block not at the image's addresses"
	kill -USR1 "$rpid"
	wait_gone "$rpid"
	grep -q '^ok$' "$T/restored.out" || die "$name: self-check failed: $(cat "$T/restored.out")"
	echo "ok $name: image $(grep vdso "$T/vdso.before" | cut -d' ' -f1), restorer's" \
		"$(head -1 "$T/restored.out" | cut -d' ' -f1)"
}

vdso_case "same address" 200000 200000
vdso_case "overlapping move" 200000 200008
