#!/bin/bash
# SPDX-License-Identifier: MIT
# Freeze errors: a missing pid, a zombie and an already-traced target each
# give exit code 4 and a message naming the pid; nothing is left traced.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

# a pid that does not exist
p=$(( $(cat /proc/sys/kernel/pid_max) - 3 ))
while [ -e /proc/$p ]; do p=$((p - 1)); done
"$PROBE" seize "$p" >"$T/o" 2>&1; rc=$?
[ $rc = 4 ] || die "missing pid: exit $rc: $(cat "$T/o")"
grep -q "pid $p does not exist" "$T/o" || die "missing pid: message: $(cat "$T/o")"

# a zombie: the child of a parent that never reaps
bash -c 'sleep 0.05 & exec sleep 30' &
PARENT=$!
CHILDREN+=("$PARENT")
sleep 0.5
Z=$(cat /proc/$PARENT/task/*/children | awk '{print $1}')
[ -n "$Z" ] && [ "$(proc_state "$Z")" = Z ] || die "could not make a zombie"
"$PROBE" seize "$Z" >"$T/o" 2>&1; rc=$?
[ $rc = 4 ] || die "zombie: exit $rc: $(cat "$T/o")"
grep -q "pid $Z is a zombie" "$T/o" || die "zombie: message: $(cat "$T/o")"

# already traced by another holder
start_target tgt_threads 4
# a thread id is not a process id
tid=$(ls /proc/$TPID/task | grep -vx "$TPID" | head -1)
"$PROBE" seize "$tid" >"$T/o" 2>&1; rc=$?
[ $rc = 4 ] || die "thread id: exit $rc: $(cat "$T/o")"
grep -q "pid $tid is a thread of process $TPID" "$T/o" || die "thread id: message: $(cat "$T/o")"
"$PROBE" freeze-hold "$TPID" 10 >"$T/hold.out" 2>&1 &
H=$!
CHILDREN+=("$H")
for _ in $(seq 500); do grep -q '^frozen' "$T/hold.out" && break; sleep 0.02; done
"$PROBE" inject "$TPID" >"$T/o" 2>&1; rc=$?
[ $rc = 4 ] || die "traced: exit $rc: $(cat "$T/o")"
grep -q "pid $TPID is already traced by $H" "$T/o" || die "traced: message: $(cat "$T/o")"
kill -INT "$H"; wait "$H"
assert_running "$TPID"

# no permission: an unprivileged user cannot seize root's process
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PROBE" seize "$TPID" >"$T/o" 2>&1; rc=$?
	[ $rc = 4 ] || die "eperm: exit $rc: $(cat "$T/o")"
	grep -q "pid $TPID: Operation not permitted" "$T/o" || die "eperm: message: $(cat "$T/o")"
	assert_running "$TPID"
fi
echo ok
