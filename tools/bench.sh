#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: criu-mem dump (each --xfer), gcore and the raw limits, side by
# side on the same bench-workload target, for each size in BENCH_SIZES (MiB).
# Prints figures; it is not a test. Env: BENCH_SIZES ("1024 4096"),
# BENCH_REPS (3, median reported), BENCH_DIR (scratch dir, default /tmp),
# BENCH_LEVEL (1), BENCH_GCORE (1 = run gcore).
set -u
BUILD=$(realpath "${1:-build}")
CM="$BUILD/criu-mem"
SIZES=${BENCH_SIZES:-1024 4096}
REPS=${BENCH_REPS:-3}
LEVEL=${BENCH_LEVEL:-1}
B=$(mktemp -d "${BENCH_DIR:-/tmp}/cm-bench.XXXXXX")
WPID=
trap '[ -n "$WPID" ] && kill "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$B"' EXIT
NCPU=$(nproc)
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

# run_dump XFER [ARGS]: one dump; appends "wall frozen_ms stored_bytes rss_kib" to $B/r
run_dump() {
	local x=$1 j
	shift
	rm -rf "$B/img"
	/usr/bin/time -f "%e %M" -o "$B/time" "$CM" dump -t "$WPID" -D "$B/img" --leave-running \
		--xfer="$x" --compress-level "$LEVEL" --json --no-progress "$@" >"$B/json" ||
		{ echo "bench: dump failed" >&2; exit 1; }
	j=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["frozen_ms"], j["bytes_raw"])' "$B/json")
	echo "$(cut -d' ' -f1 "$B/time") $j $(du -sb "$B/img" | cut -f1) $(cut -d' ' -f2 "$B/time")" >>"$B/r"
}

# report NAME: median of each column of $B/r
report() {
	local w f img rss
	w=$(cut -d' ' -f1 "$B/r" | median)
	f=$(cut -d' ' -f2 "$B/r" | median)
	img=$(cut -d' ' -f4 "$B/r" | median)
	rss=$(cut -d' ' -f5 "$B/r" | median)
	printf "%-6s %-28s %8.2f %10.1f %10s %8.1f\n" "$SIZE" "$1" "$w" "$f" "$(mib "$img")" \
		"$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
	eval "W_$2=$w; I_$2=$img"
	rm -f "$B/r"
}

echo "criu-mem bench: $(uname -r), $NCPU CPUs, zstd level $LEVEL, $REPS reps (median)"
printf "%-6s %-28s %8s %10s %10s %8s\n" MiB what wall_s frozen_ms image_MiB rss_MiB
for SIZE in $SIZES; do
	"$BUILD/tools/bench-workload" "$SIZE" >"$B/wl" &
	WPID=$!
	for i in $(seq 600); do grep -q ready "$B/wl" 2>/dev/null && break; sleep 0.1; done
	read -r _ ADDR LEN <"$B/wl"
	for x in readv vmsplice; do
		for r in $(seq "$REPS"); do run_dump "$x"; done
		report "dump --xfer=$x" "$x"
	done
	for r in $(seq "$REPS"); do run_dump readv --no-fsync; done
	report "dump --xfer=readv --no-fsync" nofsync
	for r in $(seq "$REPS"); do run_dump vmsplice --no-compress --no-fsync; done
	report "dump vmsplice --no-compress" nocomp
	# Raw limit: process_vm_readv + zstd on all cores, nothing written.
	for r in $(seq "$REPS"); do
		"$BUILD/tools/bench-rawlimit" "$WPID" "$ADDR" "$LEN" "$LEVEL" "$NCPU" >"$B/rl"
		read -r _ _ raw _ zst _ ms <"$B/rl"
		echo "$(awk -v m="$ms" 'BEGIN {print m / 1000}') 0 0 $zst 0" >>"$B/r"
	done
	report "rawlimit readv+zstd (no I/O)" raw
	# zstd -1 -T0 over the same raw page bytes, for size.
	"$BUILD/tools/bench-rawlimit" "$WPID" "$ADDR" "$LEN" "$LEVEL" 1 "$B/raw.bin" >/dev/null
	/usr/bin/time -f "%e %M" -o "$B/time" zstd -q -1 -T0 -f "$B/raw.bin" -o "$B/raw.zst"
	echo "$(cut -d' ' -f1 "$B/time") 0 0 $(stat -c %s "$B/raw.zst") $(cut -d' ' -f2 "$B/time")" >"$B/r"
	report "zstd -1 -T0 of raw pages" zstd
	rm -f "$B/raw.bin" "$B/raw.zst"
	if [ "${BENCH_GCORE:-1}" = 1 ] && command -v gcore >/dev/null; then
		/usr/bin/time -f "%e %M" -o "$B/time" gcore -o "$B/core" "$WPID" >/dev/null 2>&1
		echo "$(cut -d' ' -f1 "$B/time") 0 0 $(du -sb "$B"/core.* | cut -f1) $(cut -d' ' -f2 "$B/time")" >"$B/r"
		rm -f "$B"/core.*
		report "gcore (frozen = wall)" gcore
	fi
	kill "$WPID"
	wait "$WPID" 2>/dev/null
	WPID=
	awk -v r="$W_readv" -v v="$W_vmsplice" -v raw="$W_raw" -v g="${W_gcore:-0}" \
	    -v img="$I_readv" -v z="$I_zstd" -v s="$SIZE" 'BEGIN {
		b = r < v ? r : v
		fmt = "%-6s ratios: dump/rawlimit %.2f (target <= 1.2), dump/gcore %s (<= 0.6), image/zstd-T0 %.2f (<= 1.0), readv/vmsplice wall %.2f\n"
		gs = (g > 0) ? sprintf("%.2f", b / g) : "n/a"
		printf(fmt, s, b / raw, gs, img / z, r / v) }'
done

# Restore: raw limit, in place and new process side by side (tools/bench-restore.sh).
if [ "${BENCH_RESTORE:-1}" = 1 ]; then
	BENCH_SIZES="$SIZES" BENCH_REPS="$REPS" BENCH_LEVEL="$LEVEL" \
		"$(dirname "$0")/bench-restore.sh" "$BUILD"
fi
