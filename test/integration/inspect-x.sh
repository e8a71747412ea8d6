#!/bin/bash
# SPDX-License-Identifier: MIT
# criu-mem x returns exactly the bytes tgt_debug wrote: across page and
# frame boundaries, in written-zero runs, by symbol and by [heap]+OFF; pages
# never touched are reported absent, never read as zeros.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/inspect-lib.sh"

debug_dump

# rawcmp ADDR LEN: criu-mem x --raw equals expect.bin at ADDR.
rawcmp() {
	local a=$1 n=$2
	"$CRIU_MEM" x --raw "$T/img" "$a" "$n" >"$T/got" || die "x --raw $a $n failed"
	tail -c +$((a - R + 1)) "$T/expect.bin" | head -c "$n" >"$T/want"
	cmp "$T/got" "$T/want" || die "x --raw at $(printf %#x "$a") +$n differs from what the target wrote"
}

rawcmp "$R" $((U - R))					# start of region up to the hole
rawcmp $((U + ULEN)) $((R + LEN - U - ULEN))		# after the hole to the end
rawcmp $((R + ps - 100)) 200				# unaligned across a page boundary

# Frame boundaries inside the region: contiguous PRESENT runs whose frame changes.
bounds=$(frame_bounds "$T/img" "$TPID" | tr '\n' ' ')
nb=0
for b in $bounds; do
	[ "$b" -gt $((R + 4096)) ] && [ "$b" -lt $((R + LEN - 4096)) ] || continue
	[ "$b" -lt "$U" ] || [ "$b" -ge $((U + ULEN)) ] || continue
	rawcmp $((b - 1000)) 3000
	nb=$((nb + 1))
done
[ "$nb" -ge 1 ] || die "no frame boundary inside the region (bounds: $bounds)"

# Written zeros read as zeros.
"$CRIU_MEM" x --raw "$T/img" "$Z" "$ZLEN" | cmp - <(head -c "$ZLEN" /dev/zero) || die "zero run"

# Never-touched pages: absent, not zeros.
if "$CRIU_MEM" x --raw "$T/img" "$U" 16 >"$T/got" 2>"$T/err"; then
	die "x --raw of an absent page succeeded"
fi
[ ! -s "$T/got" ] || die "x --raw wrote bytes for an absent page"
grep -q "absent from the image" "$T/err" || die "no absent message: $(cat "$T/err")"
"$CRIU_MEM" x "$T/img" $((U - 16)) $((ULEN + 32)) >"$T/hex" || die "x hexdump failed"
[ "$(wc -l <"$T/hex")" = 3 ] || die "hexdump over the hole: $(cat "$T/hex")"
grep -q "^$(printf %012x "$U"): <$(printf %#x "$ULEN") bytes absent from the image>" "$T/hex" ||
	die "hexdump does not report the hole: $(cat "$T/hex")"

# Markers, by address, symbol and VMA name.
for m in $(awk '/^marker/{print $2}' "$out"); do
	[ "$("$CRIU_MEM" x --raw "$T/img" "$m" 18)" = CMEM-MARKER-7f3a9c ] || die "marker at $m"
done
[ "$("$CRIU_MEM" x --raw "$T/img" bss_area+100 18)" = CMEM-MARKER-7f3a9c ] || die "bss_area+100"
v=$("$CRIU_MEM" x --raw "$T/img" global_counter 8 | od -An -tu8 | tr -d ' ')
[ "$v" = 42 ] || die "global_counter reads '$v', expected 42"
# VMA_NAME+OFF: by the executable's basename (its lowest VMA is the load
# base), and by [heap] when malloc used the brk heap (not under ASan).
base=$((0x$(awk -v p="$TARGETS/tgt_debug" '$6 == p {split($1, a, "-"); print a[1]; exit}' \
	"/proc/$TPID/maps")))
bm=$(($(awk '/^marker/{print $2}' "$out" | sed -n 4p)))
[ "$("$CRIU_MEM" x --raw "$T/img" "tgt_debug+$(printf %#x $((bm - base)))" 18)" = \
	CMEM-MARKER-7f3a9c ] || die "tgt_debug+off"
hm=$(($(awk '/^marker/{print $2}' "$out" | sed -n 3p)))
read -r hs he < <(awk '/\[heap\]/{split($1, a, "-"); print a[1], a[2]}' "/proc/$TPID/maps")
if [ -n "${hs:-}" ] && [ "$hm" -ge $((0x$hs)) ] && [ "$hm" -lt $((0x$he)) ]; then
	[ "$("$CRIU_MEM" x --raw "$T/img" "[heap]+$(printf %#x $((hm - 0x$hs)))" 18)" = \
		CMEM-MARKER-7f3a9c ] || die "[heap]+off"
fi
"$CRIU_MEM" x "$T/img" no_such_symbol_here 2>/dev/null && die "unknown symbol accepted"

# A corrupt frame: a clear error (exit 3), for x and grep alike, reported once.
cp -r "$T/img" "$T/bad"
printf 'XXXXXXXX' | dd of="$(ls "$T/bad"/pages-*.img)" bs=1 seek=100000 conv=notrunc 2>/dev/null
"$CRIU_MEM" x "$T/bad" "$R" 32 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "checksum mismatch" "$T/err" || die "x on a corrupt frame: rc $rc, $(cat "$T/err")"
"$CRIU_MEM" grep -q "$T/bad" CMEM-MARKER-7f3a9c >/dev/null 2>"$T/err"; rc=$?
[ $rc = 3 ] && [ "$(grep -c checksum "$T/err")" = 1 ] || die "grep on a corrupt frame: rc $rc, $(cat "$T/err")"

assert_running "$TPID"
echo "x: ok ($nb frame boundaries checked)"
