#!/bin/bash
# SPDX-License-Identifier: MIT
# dump refuses cleanly, naming the pid, and leaves no directory behind: no
# such pid, zombie, already traced, no permission, non-empty image dir,
# a --prev-images-dir that is no image. Without --leave-running the target is killed; --json
# gives the summary fields.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
export TGT_MEM_DIR=$T

# expect_fail RC PATTERN DIR -- ARGS: criu-mem dump must exit RC, say PATTERN, create no DIR.
expect_fail() {
	local rc=$1 pat=$2 dir=$3 got
	shift 4
	"$CRIU_MEM" dump "$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$rc" ] || die "dump $* exited $got, expected $rc: $(cat "$T/err")"
	grep -q -- "$pat" "$T/err" || die "dump $*: message lacks '$pat': $(cat "$T/err")"
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "dump $*: '$dir' was left behind"
	ls -d "$dir".tmp.* >/dev/null 2>&1 && die "dump $*: temp dir left behind"
	echo "ok: $* -> $got: $(head -1 "$T/err")"
}

# No such process: a pid that just exited.
true & gone=$!
wait $gone
expect_fail 4 "pid $gone" "$T/d-gone" -- -t $gone -D "$T/d-gone"

# Zombie: a child its parent never reaps.
python3 -c 'import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(30)' >"$T/zombie" &
parent=$!
CHILDREN+=("$parent")
for i in $(seq 200); do
	z=$(cat "$T/zombie" 2>/dev/null)
	[ -n "$z" ] && [ "$(proc_state "$z")" = Z ] && break
	sleep 0.05
done
[ -n "$z" ] && [ "$(proc_state "$z")" = Z ] || die "could not make a zombie"
expect_fail 4 "pid $z.*zombie" "$T/d-zombie" -- -t "$z" -D "$T/d-zombie"

# Already traced.
start_target tgt_mem anon 7
python3 -c 'import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None):	# PTRACE_SEIZE
    sys.exit("seize: errno %d" % ctypes.get_errno())
time.sleep(30)' "$TPID" &
tracer=$!
CHILDREN+=("$tracer")
for i in $(seq 100); do
	[ "$(awk '/^TracerPid:/{print $2}' "/proc/$TPID/status")" != 0 ] && break
	sleep 0.05
done
expect_fail 4 "pid $TPID.*traced" "$T/d-traced" -- -t "$TPID" -D "$T/d-traced"
kill "$tracer"
wait "$tracer" 2>/dev/null
for i in $(seq 100); do
	[ "$(awk '/^TracerPid:/{print $2}' "/proc/$TPID/status")" = 0 ] && break
	sleep 0.05
done

# No permission: an unprivileged user against a root target.
mkdir -m 777 "$T/pub"
chmod 711 "$T"
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CRIU_MEM" dump -t "$TPID" \
		-D "$T/pub/d-perm" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 4 ] || die "unprivileged dump exited $rc: $(cat "$T/err")"
	grep -q "pid $TPID" "$T/err" || die "no pid in: $(cat "$T/err")"
	[ ! -e "$T/pub/d-perm" ] || die "unprivileged dump left a directory"
	echo "ok: unprivileged -> 4: $(head -1 "$T/err")"
fi
assert_running "$TPID"

# Existing non-empty directory: refused, untouched.
mkdir "$T/full"
echo keep >"$T/full/x"
"$CRIU_MEM" dump -t "$TPID" -D "$T/full" --leave-running >"$T/out" 2>"$T/err" &&
	die "dump into a non-empty directory succeeded"
grep -q "$T/full" "$T/err" || die "message does not name the directory: $(cat "$T/err")"
[ "$(cat "$T/full/x")" = keep ] && [ "$(ls "$T/full")" = x ] || die "non-empty directory changed"

# A parent that is not an image is refused before the target is touched.
expect_fail 1 "cannot use parent image" "$T/d-inc" -- -t "$TPID" -D "$T/d-inc" --prev-images-dir "$T/full"
assert_running "$TPID"

# --json summary.
"$CRIU_MEM" dump -t "$TPID" -D "$T/d-json" --leave-running --json --no-fsync >"$T/json" ||
	die "json dump failed"
python3 - "$T/json" <<'PY' || die "bad --json output: $(cat "$T/json")"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("pid", "frozen_ms", "pages_scanned", "pages_stored", "pages_zero", "pages_skipped",
          "bytes_raw", "bytes_stored", "ratio", "throughput_bps", "xfer"):
    assert k in j, k
assert j["pages_stored"] > 0 and j["bytes_raw"] >= j["pages_stored"] * 4096
PY
check_selftest "$TPID" "$T/tgt_mem.out"

# Without --leave-running the target is killed after a complete dump.
rm -f "$T/tgt_mem.out"
start_target tgt_mem anon 8
"$CRIU_MEM" dump -t "$TPID" -D "$T/d-kill" --no-fsync >"$T/out" 2>"$T/err" ||
	die "dump failed: $(cat "$T/err")"
wait "$TPID"
rc=$?
[ "$rc" = 137 ] || die "target not killed by the dump (rc $rc)"
[ -f "$T/d-kill/inventory.img" ] || die "no image after a killing dump"
imgverify "$T/d-kill"
echo "ok: target killed after dump"
