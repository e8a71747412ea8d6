#!/bin/bash
# SPDX-License-Identifier: MIT
# Task state through injection and /proc: sigactions (injected
# rt_sigaction), sigaltstack, umask, cwd, MmEntry (injected brk(0), auxv,
# exe build id) and the fd table kinds, flags and positions.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

mkdir "$T/dir"
printf 'abcdefghij' >"$T/file"
mkdir "$T/cwd"
(
	cd "$T/cwd" || exit 1
	umask 027
	exec 3<"$T/file" 4>/dev/null 6<"$T/dir"
	exec 5< <(sleep 60)
	read -r -n 4 x <&3
	trap 'echo usr2' USR2
	echo ready
	exec "$TARGETS/tgt_sleeper" nanosleep
) >"$T/tgt.out" 2>&1 &
TPID=$!
CHILDREN+=("$TPID")
for _ in $(seq 500); do grep -q '^ready' "$T/tgt.out" && break; sleep 0.02; done
sleep 0.1

out=$("$PROBE" task "$TPID") || die "task failed: $out"
echo "$out"
grep -q "umask=027 cwd=$T/cwd root=/" <<<"$out" || die "umask/cwd wrong"
# tgt_sleeper installs a SIGUSR1 (10) handler with SA_RESTART|SA_ONSTACK
# (0x18000000, plus SA_RESTORER 0x04000000 from libc) on a 64 KiB altstack
grep -qE '^sigaction 10 handler=0x[0-9a-f]+ flags=0x1c000000 ' <<<"$out" || die "no SIGUSR1 action"
grep -q '^sigaction 9 ' <<<"$out" && die "SIGKILL reported"
grep -qE 'altstack sp=0x[0-9a-f]+ size=65536 flags=0 ' <<<"$out" || die "sigaltstack not read"
brk=$(sed -n 's/^mm brk=\(0x[0-9a-f]*\).*/\1/p' <<<"$out")
heap_end=$(awk '/\[heap\]/{split($1,a,"-"); print "0x" a[2]}' /proc/$TPID/maps)
start_brk=$(sed -n 's/^mm .*start_brk=\(0x[0-9a-f]*\).*/\1/p' <<<"$out")
if [ -n "$heap_end" ]; then
	[ -n "$brk" ] && [ $((brk)) -le $((heap_end)) ] && [ $((brk)) -gt $((heap_end - 4096)) ] ||
		die "brk $brk does not end [heap] at $heap_end"
else	# no heap yet (e.g. under ASan): the break has not moved
	[ -n "$brk" ] && [ "$brk" = "$start_brk" ] || die "brk $brk != start_brk $start_brk"
fi
grep -q "exe=$TARGETS/tgt_sleeper build_id=20" <<<"$out" || die "exe or build id missing"
assert_running "$TPID"

out=$("$PROBE" files "$TPID") || die "files failed"
echo "$out"
grep -qE "^fd 3 kind=0 flags=0100000 pos=4 cloexec=0 ino=[0-9]+ $T/file$" <<<"$out" || die "fd 3"
grep -qE '^fd 4 kind=1 flags=0100001 .* /dev/null$' <<<"$out" || die "fd 4"
grep -qE '^fd 5 kind=2 .* pipe:\[[0-9]+\]$' <<<"$out" || die "fd 5"
grep -qE "^fd 6 kind=7 .* $T/dir$" <<<"$out" || die "fd 6"
echo ok
