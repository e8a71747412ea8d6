#!/bin/bash
# SPDX-License-Identifier: MIT
# dump options against live targets: --freeze-cgroup (v2 and v1 freezer),
# --no-compress, --threads/-j/--compress-level, --pageout, and the core image
# of a target with 8 busy threads (one thread_core per thread) and its
# process record (ppid, pgid, sid, comm, exe).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
export TGT_MEM_DIR=$T
CG2=/sys/fs/cgroup/unified
CG1=/sys/fs/cgroup/freezer
MADE=()
cleanup_cg() {
	local d
	for d in "${MADE[@]}"; do rmdir "$d" 2>/dev/null; done
}
trap 'cleanup; cleanup_cg' EXIT

# Busy threads: 9 thread cores, image equal to the target in its regions.
dump_mode threads readv
rm -f "$T/tgt_mem.out"
start_target tgt_mem threads 5
"$CRIU_MEM" dump -t "$TPID" -D "$T/d-thr" --leave-running --no-fsync >/dev/null ||
	die "threads dump failed"
n=$("$CRIU_MEM" decode "$T"/d-thr/core-*.img | grep -c ': thread_core$')
[ "$n" = 9 ] || die "expected 9 thread cores, found $n"
# The inventory names the process: ppid, pgid, sid, comm and exe as in /proc.
"$CRIU_MEM" show --json "$T/d-thr" | python3 -c '
import json, os, sys
p = json.load(sys.stdin)["processes"][0]
pid = int(sys.argv[1])
st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
want = {"pid": pid, "ppid": int(st[1]), "pgid": int(st[2]), "sid": int(st[3]),
        "comm": open("/proc/%d/comm" % pid).read().strip(),
        "exe": os.readlink("/proc/%d/exe" % pid)}
got = {k: p.get(k) for k in want}
assert got == want, (got, want)' "$TPID" || die "process record of the inventory"
echo "ok: ppid/pgid/sid/comm/exe recorded"
assert_running "$TPID"
check_selftest "$TPID" "$T/tgt_mem.out"
echo "ok: 9 thread cores"

# Options that change how pages are stored.
dump_mode anon readv --no-compress
dump_mode anon vmsplice --no-compress -j 2
dump_mode anon readv --threads 1 --compress-level 3
dump_mode fileshared readv --pageout

# cg_dump VER CG PROCS STATE THAWED SEED: dumps a target moved into cgroup
# CG (its PROCS file) with --freeze-cgroup; CG's STATE file must read
# THAWED afterwards, the target run and its image match.
cg_dump() {
	local ver=$1 cg=$2
	MADE+=("$cg")
	rm -f "$T/tgt_mem.out"
	start_target tgt_mem anon "$6"
	echo "$TPID" >"$cg/$3" || die "cannot move the target"
	"$CRIU_MEM" dump -t "$TPID" -D "$T/d-cg$ver" --leave-running --no-fsync \
		--freeze-cgroup "$cg" >"$T/out" 2>"$T/err" ||
		die "cgroup v$ver dump failed: $(cat "$T/err")"
	[ "$(cat "$cg/$4")" = "$5" ] || die "cgroup v$ver left frozen"
	assert_running "$TPID"
	"$CM_BUILD/test/cm-imgcheck" "$T/d-cg$ver" "$TPID" >/dev/null ||
		die "cgroup v$ver image differs"
	check_selftest "$TPID" "$T/tgt_mem.out"
	echo "ok: --freeze-cgroup v$ver"
}

if [ -w "$CG2" ] && mkdir "$CG2/cm-dump-$$" 2>/dev/null; then
	cg_dump 2 "$CG2/cm-dump-$$" cgroup.procs cgroup.freeze 0 11
fi
if [ -d "$CG1" ] && mkdir "$CG1/cm-dump-$$" 2>/dev/null; then
	cg_dump 1 "$CG1/cm-dump-$$" tasks freezer.state THAWED 12
fi

# hugetlb: borrow 2 huge pages when none are reserved, give them back after.
HP=/proc/sys/vm/nr_hugepages
old=$(cat $HP)
if [ "$old" -lt 2 ] && echo 2 >$HP 2>/dev/null && [ "$(cat $HP)" -ge 2 ]; then
	trap 'cleanup; cleanup_cg; echo '"$old"' >'"$HP" EXIT
	dump_mode hugetlb readv
	dump_mode hugetlb vmsplice
	echo "$old" >$HP
fi

# Command line: --help, usage errors, -R, progress bar on a TTY only.
"$CRIU_MEM" dump --help | grep -q -- "--xfer vmsplice|readv" || die "--help lacks --xfer"
"$CRIU_MEM" dump -t 1 >/dev/null 2>&1; [ $? = 2 ] || die "missing -D is not a usage error"
"$CRIU_MEM" dump -t 1 -D "$T/x" --xfer=bogus >/dev/null 2>&1; [ $? = 2 ] || die "bad --xfer accepted"
"$CRIU_MEM" dump -t 1 -D "$T/x" --compress-level 99 >/dev/null 2>&1; [ $? = 2 ] || die "bad level accepted"
rm -f "$T/tgt_mem.out"
start_target tgt_mem anon 13
"$CRIU_MEM" dump -t "$TPID" -D "$T/d-R" -R --no-fsync >"$T/out" 2>"$T/err" || die "-R dump failed"
grep -q '\[#' "$T/err" && die "progress bar drawn on a non-TTY"
if command -v script >/dev/null; then
	script -qc "$CRIU_MEM dump -t $TPID -D $T/d-tty -R --no-fsync" "$T/tty" >/dev/null ||
		die "dump on a TTY failed"
	grep -q "dump: pid $TPID: frozen" "$T/tty" || die "no summary on the TTY"
fi
assert_running "$TPID"
check_selftest "$TPID" "$T/tgt_mem.out"
echo "ok: command line"
