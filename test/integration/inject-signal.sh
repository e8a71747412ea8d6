#!/bin/bash
# SPDX-License-Identifier: MIT
# A signal that reaches the target while syscalls are being injected is not
# lost and not run on injected registers: it is held and re-queued at
# release, the handler runs once afterwards and the interrupted read()
# restarts (SA_RESTART) and gets its data.
. "$(dirname "$0")/../lib.sh"
PROBE="$CM_BUILD/test/cm-probe"

mkfifo "$T/fifo"
start_target tgt_sleeper read "$T/fifo"
out=$("$PROBE" inject-signal "$TPID" 10) || die "session failed: $out"
echo "$out"
grep -q 'held signals 0x200' <<<"$out" || die "SIGUSR1 was not caught during injection: $out"
for _ in $(seq 100); do grep -q usr1 "$T/tgt_sleeper.out" && break; sleep 0.02; done
[ "$(grep -c '^usr1$' "$T/tgt_sleeper.out")" = 1 ] || die "handler ran $(grep -c usr1 "$T/tgt_sleeper.out") times"
assert_running "$TPID"
echo after-signal >"$T/fifo"
for _ in $(seq 100); do grep -q '^got' "$T/tgt_sleeper.out" && break; sleep 0.02; done
grep -q '^got after-signal$' "$T/tgt_sleeper.out" || die "read not restarted: $(cat "$T/tgt_sleeper.out")"
wait "$TPID" || die "target exited with $?"
echo ok
