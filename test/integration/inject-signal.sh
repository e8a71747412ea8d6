#!/bin/bash
# SPDX-License-Identifier: MIT
# Signals that reach the target while syscalls are being injected are not
# lost and not run on injected registers: they are held and re-queued at
# release. SIGUSR1's handler runs once; three sigqueue()d SIGRTMIN+1 arrive
# in order with their values; the interrupted read() restarts (SA_RESTART)
# and gets its data.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

mkfifo "$T/fifo"
start_target tgt_sleeper read "$T/fifo"
out=$("$PROBE" inject-signal "$TPID" 10 3) || die "session failed: $out"
echo "$out"
rt=$(( $(kill -l SIGRTMIN) + 1 ))
mask=$(printf '%#x' $(( (1 << 9) | (1 << (rt - 1)) )))
grep -q "held signals $mask (4 instances)" <<<"$out" || die "signals not held during injection: $out"
for _ in $(seq 500); do [ "$(grep -c '^rt' "$T/tgt_sleeper.out")" = 3 ] && break; sleep 0.02; done
[ "$(grep '^rt' "$T/tgt_sleeper.out" | tr '\n' ' ')" = "rt 100 rt 101 rt 102 " ] ||
	die "RT signals lost or reordered: $(cat "$T/tgt_sleeper.out")"
for _ in $(seq 500); do grep -q usr1 "$T/tgt_sleeper.out" && break; sleep 0.02; done
[ "$(grep -c '^usr1$' "$T/tgt_sleeper.out")" = 1 ] || die "handler ran $(grep -c usr1 "$T/tgt_sleeper.out") times"
assert_running "$TPID"
echo after-signal >"$T/fifo"
for _ in $(seq 500); do grep -q '^got' "$T/tgt_sleeper.out" && break; sleep 0.02; done
grep -q '^got after-signal$' "$T/tgt_sleeper.out" || die "read not restarted: $(cat "$T/tgt_sleeper.out")"
wait "$TPID" || die "target exited with $?"
echo ok
