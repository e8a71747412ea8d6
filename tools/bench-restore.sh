#!/bin/bash
# SPDX-License-Identifier: MIT
# Restore benchmark: on the bench-workload target of each size in
# BENCH_SIZES (MiB), times side by side the raw limit (bench-restorelimit:
# parallel decompression + process_vm_writev of the same bytes, nothing
# else), criu-mem restore in place (-t PID) and into a new process (-d), with
# the restorer's peak RSS. Prints figures; it is not a test. Env:
# BENCH_SIZES ("4096"), BENCH_REPS (3, median), BENCH_DIR (/tmp), BENCH_LEVEL (1).
set -u
BUILD=$(realpath "${1:-build}")
CM="$BUILD/criu-mem"
SIZES=${BENCH_SIZES:-4096}
REPS=${BENCH_REPS:-3}
LEVEL=${BENCH_LEVEL:-1}
B=$(mktemp -d "${BENCH_DIR:-/tmp}/cm-bench-restore.XXXXXX")
WPID= NPID=
trap '[ -n "$WPID" ] && kill "$WPID" 2>/dev/null; [ -n "$NPID" ] && kill -9 "$NPID" 2>/dev/null
      wait 2>/dev/null; rm -rf "$B"' EXIT
NCPU=$(nproc)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# report NAME VAR: median wall and rss of $B/r ("wall rss_kib" lines)
report() {
	local w rss
	w=$(cut -d' ' -f1 "$B/r" | median)
	rss=$(cut -d' ' -f2 "$B/r" | median)
	printf "%-6s %-36s %8.3f %8.1f\n" "$SIZE" "$1" "$w" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
	eval "W_$2=$w"
	rm -f "$B/r"
}

echo "criu-mem restore bench: $(uname -r), $NCPU CPUs, zstd level $LEVEL, $REPS reps (median)"
printf "%-6s %-36s %8s %8s\n" MiB what wall_s rss_MiB
# A private copy: a rebuild of the tree must not replace the program under the
# image (in-place refuses another binary, new-process mode reopens it by path).
cp "$BUILD/tools/bench-workload" "$BUILD/tools/bench-restorelimit" "$B/"
for SIZE in $SIZES; do
	"$B/bench-workload" "$SIZE" >"$B/wl" &
	WPID=$!
	for i in $(seq 600); do grep -q ready "$B/wl" 2>/dev/null && break; sleep 0.1; done
	rm -rf "$B/img"
	"$CM" dump -t "$WPID" -D "$B/img" --leave-running --no-fsync --no-progress \
		--compress-level "$LEVEL" >/dev/null || { echo "bench: dump failed" >&2; exit 1; }
	# One restore first: pages the image has as zero are discarded once.
	"$CM" restore -t "$WPID" -D "$B/img" --no-progress >/dev/null ||
		{ echo "bench: restore failed" >&2; exit 1; }
	# Interleaved (limit, restore, limit, ...) so that drifting load from
	# elsewhere hits both alike; both timed the same way: process wall
	# (exec + image load included for both) at ns resolution.
	for r in $(seq "$REPS"); do
		t0=$(date +%s%N)
		/usr/bin/time -f "%M" -o "$B/time" "$B/bench-restorelimit" "$B/img" \
			"$WPID" "$NCPU" >"$B/rl" || exit 1
		t1=$(date +%s%N)
		echo "$(((t1 - t0) / 1000))e-6 $(cat "$B/time")" >>"$B/r.raw"
		t0=$(date +%s%N)
		/usr/bin/time -f "%M" -o "$B/time" "$CM" -v restore -t "$WPID" -D "$B/img" \
			--no-progress >"$B/out" 2>"$B/err" ||
			{ echo "bench: restore failed: $(tail -3 "$B/err")" >&2; exit 1; }
		t1=$(date +%s%N)
		echo "$(((t1 - t0) / 1000))e-6 $(cat "$B/time")" >>"$B/r.ip"
		cat "$B/out" "$B/err" | grep -o '[0-9.]* s total.*' >>"$B/split"
	done
	mv "$B/r.raw" "$B/r"
	report "rawlimit decompress+writev" raw
	mv "$B/r.ip" "$B/r"
	report "restore in place (-t)" inplace
	echo "$SIZE   in place, median run: $(sort -g "$B/split" | sed -n "$(((REPS + 1) / 2))p")"
	rm -f "$B/split"
	kill "$WPID"
	wait "$WPID" 2>/dev/null
	WPID=
	for r in $(seq "$REPS"); do
		rm -f "$B/pid"
		t0=$(date +%s%N)
		/usr/bin/time -f "%M" -o "$B/time" "$CM" restore -D "$B/img" -d --pid-mismatch-ok --skip-unsupported-fds \
			--pidfile "$B/pid" --no-progress >"$B/out" 2>"$B/err" ||
			{ echo "bench: new-process restore failed: $(tail -3 "$B/err")" >&2; break; }
		t1=$(date +%s%N)
		NPID=$(cat "$B/pid")
		echo "$(((t1 - t0) / 1000))e-6 $(cat "$B/time")" >>"$B/r"
		kill -9 "$NPID" 2>/dev/null
		NPID=
	done
	[ -s "$B/r" ] && report "restore new process (-d)" new
	awk -v raw="$W_raw" -v ip="$W_inplace" -v nw="${W_new:-0}" -v s="$SIZE" 'BEGIN {
		printf("%-6s ratios: in-place/rawlimit %.2f (target <= 1.3), new/rawlimit %s\n", s,
		       ip / raw, nw > 0 ? sprintf("%.2f", nw / raw) : "n/a") }'
done
