#!/bin/bash
# SPDX-License-Identifier: MIT
# criu-mem grep finds the marker tgt_debug placed at known addresses (one
# straddling a page boundary) and nothing else; matches cross frame
# boundaries but never pages missing from the image.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/inspect-lib.sh"

MARK=CMEM-MARKER-7f3a9c
debug_dump
want=$(for m in $(awk '/^marker/{print $2}' "$out"); do printf '%x\n' $((m)); done | sort)
straddle=$(printf '%x' $((R + ps - 5)))
echo "$want" | grep -qx "$straddle" || die "target did not report the straddling marker"

addrs() { awk '{print $1}' | while read -r a; do printf '%x\n' $((a)); done | sort; }

"$CRIU_MEM" grep -q "$T/img" "$MARK" >"$T/hits" || die "grep found nothing"
got=$(addrs <"$T/hits")
[ "$got" = "$want" ] || die "grep found
$got
expected
$want"
awk 'NF != 2 || $2 !~ /^(\/|\[).*\+0x[0-9a-f]+$/ {exit 1}' "$T/hits" ||
	die "hits without VMA+offset: $(cat "$T/hits")"
grep -q "^0x0*$straddle  \[anon\]+0x[0-9a-f]*ffb$" "$T/hits" || die "straddling hit: $(cat "$T/hits")"

[ "$("$CRIU_MEM" grep -q -j 1 "$T/img" "$MARK" | addrs)" = "$want" ] || die "-j 1 differs"
hex=$(printf %s "$MARK" | od -An -tx1 | tr -d ' \n')
[ "$("$CRIU_MEM" grep -q --hex "$T/img" "$hex" | addrs)" = "$want" ] || die "--hex differs"
[ "$("$CRIU_MEM" grep -q --count "$T/img" "$MARK")" = 4 ] || die "--count"
[ "$("$CRIU_MEM" grep -q --max 2 "$T/img" "$MARK" | addrs)" = "$(echo "$want" | head -2)" ] ||
	die "--max 2"
[ "$("$CRIU_MEM" grep -q --max 2 --count "$T/img" "$MARK")" = 2 ] || die "--max 2 --count"

# 64 random bytes straddling each frame boundary inside the region (contiguous
# PRESENT runs whose frame changes), and a page boundary: found exactly there.
bounds=$(frame_bounds "$T/img" "$TPID" | tr '\n' ' ')
nb=0
for bd in $bounds $((R + 20 * ps)); do
	a=$((bd - 32))
	[ $a -gt "$R" ] && [ $a -lt $((R + LEN - 64)) ] || continue
	[ $a -ge $((U - 64)) ] && [ $a -lt $((U + ULEN)) ] && continue
	pat=$(tail -c +$((a - R + 1)) "$T/expect.bin" | head -c 64 | od -An -tx1 | tr -d ' \n')
	got=$("$CRIU_MEM" grep -q --hex "$T/img" "$pat" | addrs)
	[ "$got" = "$(printf '%x' $a)" ] || die "pattern at $(printf %#x $a) found at '$got'"
	nb=$((nb + 1))
done
[ "$nb" -ge 2 ] || die "no frame boundary inside the region (bounds: $bounds)"

# Every seam between two address-contiguous search chunks (from -vv): the
# 24 bytes around it are found there.
prev="" ns=0
while read -r cs ce; do
	if [ "$cs" = "$prev" ]; then
		a=$((cs - 12))
		pat=$("$CRIU_MEM" x --raw "$T/img" $a 24 | od -An -tx1 | tr -d ' \n')
		"$CRIU_MEM" grep -q --hex "$T/img" "$pat" | addrs | grep -qx "$(printf %x $a)" ||
			die "no match across the chunk seam at $cs"
		ns=$((ns + 1))
	fi
	prev=$ce
done < <("$CRIU_MEM" -vv grep -q --count "$T/img" "$MARK" 2>&1 >/dev/null |
	 sed -n 's/^grep: chunk \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)$/\1 \2/p')
[ "$ns" -ge 1 ] || die "no chunk seam in the image"

# Never across pages missing from the image: bytes before the hole + zeros.
pat=$(tail -c +$((U - R - 7)) "$T/expect.bin" | head -c 16 | od -An -tx1 | tr -d ' \n')
case $pat in *0000000000000000) ;; *) die "expect.bin hole is not zero: $pat" ;; esac
if "$CRIU_MEM" grep -q --hex "$T/img" "$pat" >"$T/hits"; then
	die "matched across an absent page: $(cat "$T/hits")"
fi
[ ! -s "$T/hits" ] || die "output for no match"

"$CRIU_MEM" grep -q "$T/img" "CMEM-NOT-PRESENT" && die "grep found a string that is not there"
"$CRIU_MEM" grep --hex "$T/img" "zz" 2>/dev/null; [ $? = 2 ] || die "bad hex accepted"
assert_running "$TPID"
echo "grep: ok ($((nb - 1)) frame boundaries, $ns chunk seams checked)"
