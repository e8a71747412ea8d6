#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: criu-mem dump (each --xfer), gcore and the raw limit, side by
# side on the same bench-workload target, for each size in BENCH_SIZES (MiB).
# Every contender runs once per round, the rounds interleaved, so that load
# from elsewhere hits all of them alike; medians are reported, and the ratios
# are the medians of the per-round ratios, checked against the issue #3
# targets. Prints figures; it is not a test.
# Env: BENCH_SIZES ("1024 4096"), BENCH_REPS (5), BENCH_DIR (scratch dir on
# the filesystem measured, default /tmp), BENCH_LEVEL (1), BENCH_GCORE (1),
# BENCH_EXTRA (1 = also --no-fsync and --no-compress rows), BENCH_RESTORE (1),
# BENCH_BASE (another criu-mem binary: its readv dump gets a row, interleaved).
set -u
BUILD=$(realpath "${1:-build}")
CM="$BUILD/criu-mem"
BASE=${BENCH_BASE:-}
SIZES=${BENCH_SIZES:-1024 4096}
REPS=${BENCH_REPS:-5}
LEVEL=${BENCH_LEVEL:-1}
EXTRA=${BENCH_EXTRA:-1}
B=$(mktemp -d "${BENCH_DIR:-/tmp}/cm-bench.XXXXXX")
WPID=
trap '[ -n "$WPID" ] && kill "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$B"' EXIT
NCPU=$(nproc)
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
GCORE=0
[ "${BENCH_GCORE:-1}" = 1 ] && command -v gcore >/dev/null && GCORE=1

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

# Each contender KEY appends "wall frozen_ms stored_bytes rss_kib" to $B/KEY.
# run_dump KEY XFER [ARGS]: one dump into a fresh directory of $B.
run_dump() {
	local key=$1 x=$2 j bin=$CM
	shift 2
	[ "$key" = base ] && bin=$BASE
	rm -rf "$B/img"
	sync
	/usr/bin/time -f "%e %M" -o "$B/time" "$bin" dump -t "$WPID" -D "$B/img" --leave-running \
		--xfer="$x" --compress-level "$LEVEL" --json --no-progress "$@" >"$B/json" ||
		{ echo "bench: dump --xfer=$x $* failed" >&2; exit 1; }
	j=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frozen_ms"])' "$B/json")
	echo "$(cut -d' ' -f1 "$B/time") $j $(du -sb "$B/img" | cut -f1) $(cut -d' ' -f2 "$B/time")" \
		>>"$B/$key"
	rm -rf "$B/img"
}

# Raw limit: PAGEMAP_SCAN + process_vm_readv + zstd on all cores, nothing written.
run_raw() {
	local ms zst

	"$BUILD/tools/bench-rawlimit" "$WPID" "$ADDR" "$LEN" "$LEVEL" "$NCPU" >"$B/rl" ||
		{ echo "bench: bench-rawlimit failed" >&2; exit 1; }
	read -r _ _ _ _ zst _ ms <"$B/rl"
	echo "$(awk -v m="$ms" 'BEGIN {print m / 1000}') 0 $zst 0" >>"$B/raw"
}

# gcore writes its core file into $B, the filesystem the dumps are written to.
# It does not fsync; the target is stopped for its whole run.
run_gcore() {
	sync
	/usr/bin/time -f "%e %M" -o "$B/time" gcore -o "$B/core" "$WPID" >/dev/null 2>&1 ||
		{ echo "bench: gcore failed" >&2; exit 1; }
	echo "$(cut -d' ' -f1 "$B/time") 0 $(du -sb "$B"/core.* | cut -f1) $(cut -d' ' -f2 "$B/time")" \
		>>"$B/gcore"
	rm -f "$B"/core.*
}

# col KEY N: median of column N of $B/KEY
col() { cut -d' ' -f"$2" "$B/$1" | median; }

# row KEY NAME: one table line of medians
row() {
	[ -s "$B/$1" ] || return 0
	printf "%-6s %-30s %8.3f %10.1f %10s %8.1f\n" "$SIZE" "$2" "$(col "$1" 1)" "$(col "$1" 2)" \
		"$(mib "$(col "$1" 3)")" "$(awk -v k="$(col "$1" 4)" 'BEGIN {print k / 1024}')"
}

# ratio A B: median over rounds of wall(A)/wall(B), paired by round
ratio() {
	paste -d' ' <(cut -d' ' -f1 "$B/$1") <(cut -d' ' -f1 "$B/$2") |
		awk '{print $1 / $2}' | median
}

# verdict NAME VALUE LIMIT
verdict() {
	awk -v n="$1" -v v="$2" -v l="$3" -v s="$SIZE" 'BEGIN {
		printf "%-6s %-44s %7.4f  (target <= %.1f)  %s\n", s, n, v, l, v <= l ? "PASS" : "FAIL" }'
}

echo "criu-mem bench: $(uname -r), $NCPU CPUs, zstd level $LEVEL, $REPS interleaved rounds (median)," \
	"dir $(df --output=fstype "$B" | tail -1) $B"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for SIZE in $SIZES; do
	"$BUILD/tools/bench-workload" "$SIZE" >"$B/wl" &
	WPID=$!
	for i in $(seq 600); do grep -q ready "$B/wl" 2>/dev/null && break; sleep 0.1; done
	read -r _ ADDR LEN <"$B/wl"
	rm -f "$B/readv" "$B/vmsplice" "$B/nofsync" "$B/nocomp" "$B/raw" "$B/gcore" "$B/base"
	# One round runs every contender once; each round starts one further
	# down the list, so none always follows the same neighbour.
	RUNS=("run_dump readv readv" "run_raw" "run_dump vmsplice vmsplice")
	[ -n "$BASE" ] && RUNS+=("run_dump base readv")
	[ "$GCORE" = 1 ] && RUNS+=("run_gcore")
	[ "$EXTRA" = 1 ] && RUNS+=("run_dump nofsync readv --no-fsync" \
				 "run_dump nocomp readv --no-compress --no-fsync")
	for r in $(seq 0 $((REPS - 1))); do
		for i in $(seq 0 $((${#RUNS[@]} - 1))); do
			${RUNS[$(((r + i) % ${#RUNS[@]}))]}
		done
	done
	# zstd -1 -T0 over the same raw page bytes, for size.
	"$BUILD/tools/bench-rawlimit" "$WPID" "$ADDR" "$LEN" "$LEVEL" 1 "$B/raw.bin" >/dev/null
	/usr/bin/time -f "%e %M" -o "$B/time" zstd -q -"$LEVEL" -T0 -f "$B/raw.bin" -o "$B/raw.zst"
	echo "$(cut -d' ' -f1 "$B/time") 0 $(stat -c %s "$B/raw.zst") $(cut -d' ' -f2 "$B/time")" \
		>"$B/zstd"
	rm -f "$B/raw.bin" "$B/raw.zst"
	kill "$WPID"
	wait "$WPID" 2>/dev/null
	WPID=

	printf "\n%-6s %-30s %8s %10s %10s %8s\n" MiB what wall_s frozen_ms image_MiB rss_MiB
	row readv "dump --xfer=readv (default)"
	row vmsplice "dump --xfer=vmsplice"
	row nofsync "dump --xfer=readv --no-fsync"
	row nocomp "dump readv --no-compress"
	row base "dump --xfer=readv, BENCH_BASE"
	row raw "rawlimit readv+zstd, no I/O"
	row zstd "zstd -$LEVEL -T0 of raw pages"
	row gcore "gcore (frozen = wall)"
	echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
	verdict "dump wall / rawlimit wall" "$(ratio readv raw)" 1.2
	[ "$GCORE" = 1 ] && verdict "dump wall / gcore wall" "$(ratio readv gcore)" 0.6
	verdict "image / zstd -$LEVEL -T0 size" \
		"$(awk -v a="$(col readv 3)" -v b="$(col zstd 3)" 'BEGIN {print a / b}')" 1.0
	printf "%-6s %-44s %6.2f  (readv / vmsplice, paired)\n" "$SIZE" "xfer" "$(ratio readv vmsplice)"
	[ -n "$BASE" ] && printf "%-6s %-44s %6.2f  (paired)\n" "$SIZE" "dump wall / BENCH_BASE dump wall" \
		"$(ratio readv base)" && printf "%-6s %-44s %6.2f  (paired)\n" "$SIZE" \
		"BENCH_BASE dump wall / rawlimit wall" "$(ratio base raw)"
	[ "$GCORE" = 1 ] && [ "$EXTRA" = 1 ] &&
		printf "%-6s %-44s %6.2f  (gcore does not fsync)\n" "$SIZE" \
			"dump --no-fsync wall / gcore wall" "$(ratio nofsync gcore)"
	echo
done

# Restore: raw limit, in place and new process side by side (tools/bench-restore.sh).
if [ "${BENCH_RESTORE:-1}" = 1 ]; then
	BENCH_SIZES="$SIZES" BENCH_REPS="${BENCH_REPS:-3}" BENCH_LEVEL="$LEVEL" \
		"$(dirname "$0")/bench-restore.sh" "$BUILD"
fi
