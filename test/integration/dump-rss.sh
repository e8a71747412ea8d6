#!/bin/bash
# SPDX-License-Identifier: MIT
# Dumper memory does not grow with the number of pagemap runs: a target whose
# pages alternate non-zero / zero-written (one run per page, 256k runs at
# 1 GiB) is dumped with a peak RSS <= 64 MiB + 4 MiB, and within 6 MiB of the
# peak for a 64 MiB target of the same layout (a kept run list costs >= 40
# bytes a run, 10 MiB here). The image holds every run and the target is intact.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
BIG=${DUMP_RSS_MIB:-1024}
LIMIT_KIB=$(((64 + 4) * 1024))
SLACK_KIB=$((6 * 1024))

# peak_rss DIR: dumps $TPID into DIR, prints the dumper's peak RSS in KiB.
peak_rss() {
	python3 - "$CRIU_MEM" dump -t "$TPID" -D "$1" --leave-running --no-progress --no-fsync \
		2>"$T/dump.err" <<'PY'
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)
PY
}

# runs DIR: the number of runs criu-mem verify checked.
runs() {
	"$CRIU_MEM" verify "$1" | sed -n 's/.* \([0-9]*\) runs verified.*/\1/p'
}

start_target tgt_stripes 64
small=$(peak_rss "$T/small") || die "dump of the 64 MiB target failed: $(cat "$T/dump.err")"
assert_running "$TPID"
check_selftest "$TPID" "$T/tgt_stripes.out"

start_target tgt_stripes "$BIG"
snapshot "$TPID" "$T/before"
big=$(peak_rss "$T/big") || die "dump of the $BIG MiB target failed: $(cat "$T/dump.err")"
assert_running "$TPID"
snapshot "$TPID" "$T/after"
diff "$T/before" "$T/after" >&2 || die "maps or fds of the target changed"
echo "dumper peak RSS: $small KiB for 64 MiB, $big KiB for $BIG MiB"

imgverify "$T/big"
n=$(runs "$T/big")
[ -n "$n" ] && [ "$n" -ge $((BIG * 256)) ] || die "image has ${n:-no} runs, expected >= $((BIG * 256))"
"$CM_BUILD/test/cm-imgcheck" "$T/big" "$TPID" >"$T/check.out" ||
	die "image differs from the target: $(cat "$T/check.out")"
check_selftest "$TPID" "$T/tgt_stripes.out"

[ "$big" -le "$LIMIT_KIB" ] || die "dumper peak RSS $big KiB > $LIMIT_KIB KiB for $n runs"
[ "$big" -le $((small + SLACK_KIB)) ] ||
	die "dumper peak RSS grows with the runs: $big KiB for $n runs, $small KiB for 64 MiB"
echo "ok: $n runs, dumper peak RSS $big KiB (64 MiB target: $small KiB)"
