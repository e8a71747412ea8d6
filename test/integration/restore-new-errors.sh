#!/bin/bash
# SPDX-License-Identifier: MIT
# New-process restore failures: the image's pid in use (clear message, then
# --pid-mismatch-ok gives another pid), a file mapping whose file is gone
# and a corrupt page store (the half-built process is killed or never
# created: no process with the pid, no pid file), a missing working
# directory, an unwritable pid file.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"
export TGT_MEM_DIR=$T

# expect_fail NAME PATTERN ARGS...: restore must fail, print PATTERN, and
# leave neither a pid file nor a process with the image's pid ($IPID).
expect_fail() {
	local name=$1 pat=$2
	shift 2
	rm -f "$T/pid.fail"
	"$CRIU_MEM" restore "$@" --pidfile "$T/pid.fail" >"$T/fail.out" 2>"$T/fail.err" &&
		die "$name: restore succeeded"
	grep -q -- "$pat" "$T/fail.err" || die "$name: no '$pat' in: $(cat "$T/fail.err")"
	[ -e "$T/pid.fail" ] && die "$name: pid file written"
	echo "ok $name: $(grep error "$T/fail.err" | head -1)"
}

# 1. The pid is taken by a first restored copy.
start_target tgt_mem anon 99
IPID=$TPID
dump_kill "$TPID" "$T/img"
"$CRIU_MEM" restore -D "$T/img" -d --pidfile "$T/pid1" >"$T/r1.out" 2>"$T/r1.err" ||
	die "first restore failed: $(cat "$T/r1.err")"
p1=$(cat "$T/pid1")
CHILDREN+=("$p1")
[ "$p1" = "$IPID" ] || die "first restore got pid $p1"
expect_fail "pid in use" "pid $IPID is in use, use --pid-mismatch-ok" -D "$T/img" -d
"$CRIU_MEM" restore -D "$T/img" -d --pid-mismatch-ok --pidfile "$T/pid2" >"$T/r2.out" \
	2>"$T/r2.err" || die "restore --pid-mismatch-ok failed: $(cat "$T/r2.err")"
p2=$(cat "$T/pid2")
CHILDREN+=("$p2")
[ "$p2" != "$p1" ] || die "second copy has the same pid"
kill -USR1 "$p1" "$p2"
wait_gone "$p1"
wait_gone "$p2"
grep -q '^ok$' "$T/r1.out" && grep -q '^ok$' "$T/r2.out" ||
	die "self-check of the two copies: $(cat "$T/r1.out" "$T/r2.out")"
echo "ok two copies, the second with another pid"

# 2. A file mapping whose file is gone: refused after the host exists, so
# the host must be killed.
start_target tgt_mem fileprivate 99
IPID=$TPID
dump_kill "$TPID" "$T/img-file"
rm -f "$T"/tgt_mem."$IPID".fileprivate
expect_fail "file gone" "tgt_mem.$IPID.fileprivate" -D "$T/img-file" -d
grep -q "killing the half-built process $IPID" "$T/fail.err" ||
	die "the failure did not come after the host existed: $(cat "$T/fail.err")"
[ -e "/proc/$IPID" ] && die "half-built process $IPID left behind"

# 3. A corrupt page store: refused before anything is created.
start_target tgt_mem anon 99
IPID=$TPID
dump_kill "$TPID" "$T/img-bad"
pages=$(ls "$T"/img-bad/pages-*.img)
size=$(stat -c %s "$pages")
printf '\xff\xff\xff\xff' | dd of="$pages" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail "corrupt image" "error" -D "$T/img-bad" -d
[ -e "/proc/$IPID" ] && die "a process was created from a corrupt image"

# 4. The working directory of the image is gone.
mkdir "$T/wd"
(cd "$T/wd" && exec "$TARGETS/tgt_mem" anon 99 >"$T/wd.out" 2>&1) &
IPID=$!
CHILDREN+=("$IPID")
for i in $(seq 200); do grep -q '^ready' "$T/wd.out" && break; sleep 0.05; done
dump_kill "$IPID" "$T/img-wd"
rmdir "$T/wd"
expect_fail "cwd gone" "working directory '$T/wd' of the image" -D "$T/img-wd" -d
[ -e "/proc/$IPID" ] && die "a process was created without its cwd"

# 5. The pid file can't be written: the process, already running, is killed.
start_target tgt_mem anon 99
IPID=$TPID
dump_kill "$TPID" "$T/img-pf"
"$CRIU_MEM" restore -D "$T/img-pf" -d --pidfile "$T/no/such/dir/pid" >/dev/null 2>"$T/pf.err" &&
	die "restore with an unwritable pid file succeeded"
grep -q "cannot write pid file" "$T/pf.err" || die "no clear pid file error: $(cat "$T/pf.err")"
[ -e "/proc/$IPID" ] && die "process $IPID left running without its pid file"
echo "ok unwritable pid file"
exit 0
