# SPDX-License-Identifier: MIT
# Helpers for the inspect-* tests (sourced after lib.sh).

# debug_dump: starts tgt_debug (its bytes in $T/expect.bin), dumps it with
# --leave-running into $T/img and sets out (its report), ps, and the ranges
# it reported: R LEN (region), Z ZLEN (written zeros), U ULEN (untouched).
debug_dump() {
	start_target tgt_debug "$T/expect.bin"
	out=$T/tgt_debug.out
	"$CRIU_MEM" dump -t "$TPID" -D "$T/img" --leave-running || die "dump failed"
	assert_running "$TPID"
	ps=$(getconf PAGESIZE)
	read -r R LEN < <(awk '/^region/{print $2, $3}' "$out")
	read -r Z ZLEN < <(awk '/^zero/{print $2, $3}' "$out")
	read -r U ULEN < <(awk '/^untouched/{print $2, $3}' "$out")
	R=$((R)); Z=$((Z)); U=$((U))
}

# frame_bounds IMG PID: the addresses where two address-contiguous PRESENT
# runs of the pagemap are stored in different frames, one per line.
frame_bounds() {
	local pe=-1 pf="" v n f fr
	while read -r v n f fr; do
		v=$((v))
		if [ "$f" = 1 ]; then
			[ "$pe" = "$v" ] && [ "$pf" != "$fr" ] && echo "$v"
			pe=$((v + n * ps)) pf=$fr
		else
			pe=-1
		fi
	done < <("$CRIU_MEM" decode "$1"/pagemap-"$2".img | awk '
		/^record/ { if (v != "") print v, n, f, fr; v = ""; fr = "-" }
		/vaddr:/ { v = $2 } /nr_pages:/ { n = $2 } /flags:/ { f = $2 } /frame:/ { fr = $2 }
		END { if (v != "") print v, n, f, fr }')
}
