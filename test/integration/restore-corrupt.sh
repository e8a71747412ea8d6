#!/bin/bash
# SPDX-License-Identifier: MIT
# A bad image never reaches the target: a flipped byte in a page-store frame,
# in the pagemap or in the mm record, or a truncated page store, is refused
# before the target is touched (exit 3): the scrambled target keeps its
# maps and memory and runs on. Then the good image restores it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"
export TGT_MEM_DIR=$T

start_target tgt_mem anon 77
P=$TPID
read -r _ _ A_START A_LEN < <(grep '^region anon ' "$T/tgt_mem.out")
"$CRIU_MEM" dump -t "$P" -D "$T/img" --leave-running --no-fsync --no-progress >/dev/null ||
	die "dump failed"
kill -USR2 "$P"
wait_line "$T/tgt_mem.out" '^scrambled'

# memsum: checksum of the first 96 pages of the anon region (page 100 is a guard).
memsum() {
	dd if="/proc/$P/mem" bs=4096 skip=$((A_START / 4096)) count=96 status=none | md5sum
}
layout "$P" >"$T/l.before"
sum_before=$(memsum)
[ -n "$sum_before" ] || die "cannot read the target's memory"

pages=$(ls "$T/img"/pages-*.img)
pagemap=$(ls "$T/img"/pagemap-*.img)
mm=$(ls "$T/img"/mm-*.img)

# flip FILE OFFSET: xor one byte.
flip() {
	python3 -c 'import sys
f = open(sys.argv[1], "r+b"); off = int(sys.argv[2]); f.seek(off)
b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x40]))' "$1" "$2"
}

# refused NAME: restore of $T/bad must exit 3 and leave the target as it was.
refused() {
	local rc what=$1
	shift
	"$CRIU_MEM" restore -t "$P" -D "$T/bad" --no-progress "$@" >"$T/r.out" 2>"$T/r.err"
	rc=$?
	[ "$rc" = 3 ] || die "$what: restore exited $rc, expected 3: $(cat "$T/r.err")"
	grep -q "restore of pid $P failed" "$T/r.err" && die "$what: the target was modified"
	assert_running "$P"
	layout "$P" >"$T/l.after"
	diff "$T/l.before" "$T/l.after" >&2 || die "$what: the target's maps changed"
	[ "$(memsum)" = "$sum_before" ] || die "$what: the target's memory changed"
	echo "ok $what: refused: $(head -1 "$T/r.err")"
}

mkbad() {
	rm -rf "$T/bad"
	cp -a "$T/img" "$T/bad"
}

mkbad
size=$(stat -c %s "$pages")
flip "$T/bad/$(basename "$pages")" $((size / 2))
refused "byte flipped in a frame"

mkbad
size=$(stat -c %s "$pages")
flip "$T/bad/$(basename "$pages")" $((size / 3))
refused "byte flipped in a frame (--full-verify)" --full-verify

mkbad
flip "$T/bad/$(basename "$pages")" 26	# inside the first frame header
refused "byte flipped in a frame header"

mkbad
truncate -s $(($(stat -c %s "$pages") - 5000)) "$T/bad/$(basename "$pages")"
refused "truncated page store"

mkbad
flip "$T/bad/$(basename "$pagemap")" $(($(stat -c %s "$pagemap") - 3))
refused "byte flipped in the pagemap"

mkbad
flip "$T/bad/$(basename "$mm")" 30
refused "byte flipped in the mm record"

# The good image still works after all that.
"$CRIU_MEM" restore -t "$P" -D "$T/img" --no-progress >"$T/r.out" 2>"$T/r.err" ||
	die "restore of the good image failed: $(cat "$T/r.err")"
assert_running "$P"
selftest "$P" "$T/tgt_mem.out" 0
echo "ok good image: $(cat "$T/r.out")"
