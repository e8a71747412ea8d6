#!/bin/bash
# SPDX-License-Identifier: MIT
# In-place refusals and late failures:
#  - another process of the same program (other tids): "thread set differs",
#    exit 4, that process untouched;
#  - another program: refused unless --force, exit 4;
#  - a failure after the target was modified (its shared file was truncated
#    behind its back): the target is left stopped and untraced, and the
#    report names what was and wasn't restored; --kill-on-error kills it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"
export TGT_MEM_DIR=$T

start_target tgt_mem threads 11
A=$TPID
"$CRIU_MEM" dump -t "$A" -D "$T/img-a" --leave-running --no-fsync --no-progress >/dev/null ||
	die "dump failed"

# Same program, other process.
mv "$T/tgt_mem.out" "$T/a.out"
start_target tgt_mem threads 11
B=$TPID
"$CRIU_MEM" restore -t "$B" -D "$T/img-a" --no-progress >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 4 ] || die "restore into another process exited $rc: $(cat "$T/err")"
grep -q "thread set differs" "$T/err" || die "no thread-set message: $(cat "$T/err")"
grep -q "restore of pid $B failed" "$T/err" && die "process $B was modified"
assert_running "$B"
selftest "$B" "$T/tgt_mem.out" 0
echo "ok thread set: $(tail -1 "$T/err")"

# Another program.
sleep 60 &
S=$!
CHILDREN+=("$S")
"$CRIU_MEM" restore -t "$S" -D "$T/img-a" --no-progress >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 4 ] || die "restore into sleep exited $rc: $(cat "$T/err")"
grep -q "refusing to restore into another program" "$T/err" || die "no exe message: $(cat "$T/err")"
assert_running "$S"
kill "$S"
echo "ok other program: $(grep refusing "$T/err")"
selftest "$A" "$T/a.out" 0

# Late failure: pages of a shared file mapping that was truncated to 0.
late() {
	local rc dir=$T/img-$1
	rm -f "$T/tgt_mem.out"
	start_target tgt_mem fileshared 12
	"$CRIU_MEM" dump -t "$TPID" -D "$dir" --leave-running --no-fsync --no-progress \
		>/dev/null || die "dump failed"
	truncate -s 0 "$T/tgt_mem.$TPID.fileshared"
	shift
	"$CRIU_MEM" restore -t "$TPID" -D "$dir" --no-progress "$@" >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" != 0 ] || die "restore into a truncated mapping succeeded"
	grep -q "memory contents .*PARTIALLY restored" "$T/err" || die "no state report: $(cat "$T/err")"
	grep -q "registers and signal masks .*NOT restored" "$T/err" || die "bad report: $(cat "$T/err")"
}
late late0
for i in $(seq 100); do [ "$(proc_state "$TPID")" = T ] && break; sleep 0.05; done
[ "$(proc_state "$TPID")" = T ] || die "target not left stopped (state $(proc_state "$TPID"))"
[ "$(awk '/^TracerPid:/{print $2}' "/proc/$TPID/status")" = 0 ] || die "target left traced"
echo "ok late failure: target $TPID left stopped: $(grep 'left STOPPED' "$T/err")"
kill -KILL "$TPID"

late late1 --kill-on-error
for i in $(seq 100); do kill -0 "$TPID" 2>/dev/null || break; [ "$(proc_state "$TPID")" = Z ] && break; sleep 0.05; done
kill -0 "$TPID" 2>/dev/null && [ "$(proc_state "$TPID")" != Z ] && die "--kill-on-error: target alive"
echo "ok --kill-on-error: target killed"
