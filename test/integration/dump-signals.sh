#!/bin/bash
# SPDX-License-Identifier: MIT
# A 1 GiB target: a full dump stays under 64 MiB of dumper RSS. Interrupting
# a dump of it with SIGINT/SIGTERM to criu-mem (both backends) or a SIGKILL of
# criu-mem leaves the target running, untraced, unchanged (self-check) and no
# image under the final name. A target killed mid-dump gives a clear error
# naming the pid, and no image either.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
SIZE=${DUMP_SIG_MIB:-1024}

tracer_of() { awk '/^TracerPid:/{print $2}' "/proc/$1/status" 2>/dev/null; }

# start_dump XFER DIR: a dump in the background; returns once the target is seized.
start_dump() {
	"$CRIU_MEM" dump -t "$TPID" -D "$2" --leave-running --xfer="$1" >"$T/out" 2>"$T/err" &
	DPID=$!
	for i in $(seq 400); do
		[ "$(tracer_of "$TPID")" = "$DPID" ] && return 0
		kill -0 "$DPID" 2>/dev/null || die "dump ended before seizing: $(cat "$T/err")"
		sleep 0.01
	done
	die "dump never seized the target"
}

no_image() {
	[ ! -e "$1" ] || die "'$1' exists after an interrupted dump"
}

wait_untraced() {
	for i in $(seq 200); do
		[ "$(tracer_of "$1")" = 0 ] && return 0
		sleep 0.02
	done
	die "target $1 still traced"
}

rm -f "$T/tgt_mem.out"
start_target tgt_mem big 99 "$SIZE"

# A complete dump of the whole target first: peak RSS stays <= 64 MiB.
python3 - "$CRIU_MEM" dump -t "$TPID" -D "$T/d-full" --leave-running --no-fsync <<'PY' >"$T/rss" ||
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)
PY
	die "full dump of $SIZE MiB failed"
[ "$(cat "$T/rss")" -le 65536 ] || die "dumper peak RSS $(cat "$T/rss") KiB > 64 MiB"
imgverify "$T/d-full"
echo "ok: full dump of $SIZE MiB, dumper peak RSS $(cat "$T/rss") KiB"
rm -rf "$T/d-full"
for sig in INT TERM; do
	for x in readv vmsplice; do
		d="$T/d-$sig-$x"
		start_dump "$x" "$d"
		sleep 0.1
		kill -"$sig" "$DPID"
		wait "$DPID"
		rc=$?
		[ "$rc" != 0 ] || die "SIG$sig: dump still succeeded"
		grep -q "interrupted" "$T/err" || die "SIG$sig: no 'interrupted' message: $(cat "$T/err")"
		no_image "$d"
		ls -d "$d".tmp.* >/dev/null 2>&1 && die "SIG$sig: temp dir left behind"
		assert_running "$TPID"
		echo "ok: SIG$sig/$x -> rc $rc: $(head -1 "$T/err")"
	done
done

# SIGKILL of criu-mem: the kernel detaches; the target goes on.
for x in readv vmsplice; do
	d="$T/d-KILL-$x"
	start_dump "$x" "$d"
	sleep 0.1
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null
	wait_untraced "$TPID"
	sleep 0.1
	no_image "$d"
	assert_running "$TPID"
	echo "ok: SIGKILL/$x"
done
check_selftest "$TPID" "$T/tgt_mem.out"

# The target dies mid-dump.
rm -f "$T/tgt_mem.out"
start_target tgt_mem big 98 "$SIZE"
start_dump readv "$T/d-exit"
sleep 0.1
kill -KILL "$TPID"
wait "$DPID"
rc=$?
[ "$rc" != 0 ] || die "dump of a killed target succeeded"
grep -q "$TPID" "$T/err" || die "error does not name pid $TPID: $(cat "$T/err")"
no_image "$T/d-exit"
echo "ok: target killed mid-dump -> rc $rc: $(head -1 "$T/err")"
