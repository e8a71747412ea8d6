#!/bin/bash
# SPDX-License-Identifier: MIT
# In-place restore basics: the scramble really breaks the target's self-check
# (so the other tests can fail); a restore onto unchanged memory is a no-op
# for the layout; --json and --pidfile; "all" mode with threads' registers.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"
export TGT_MEM_DIR=$T

# Control: scramble without restore -> the self-check fails.
start_target tgt_mem anon 99
kill -USR2 "$TPID"
wait_line "$T/tgt_mem.out" '^scrambled'
kill -USR1 "$TPID"; wait "$TPID" && die "control: scrambled target passed its self-check"
echo "ok control: scrambled target fails its self-check"

# Unchanged memory: layout identical, --json summary, --pidfile.
rm -f "$T/tgt_mem.out"
start_target tgt_mem anon 100
layout "$TPID" >"$T/l0"
"$CRIU_MEM" dump -t "$TPID" -D "$T/img" --leave-running --no-fsync --no-progress >/dev/null ||
	die "dump failed"
"$CRIU_MEM" restore -t "$TPID" -D "$T/img" --json --pidfile "$T/pid" >"$T/r.json" 2>"$T/r.err" ||
	die "restore failed: $(cat "$T/r.err")"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d
assert d["mode"] == "in-place", d
assert d["pages_written"] > 1000, d
assert d["vmas_unmapped"] == 0 and d["vmas_mapped"] == 0, d
assert d["threads"] == 1, d' "$T/r.json" "$TPID" || die "bad --json: $(cat "$T/r.json")"
[ "$(cat "$T/pid")" = "$TPID" ] || die "pidfile holds '$(cat "$T/pid")'"
[ "$(stat -c %a "$T/pid")" = 600 ] || die "pidfile mode $(stat -c %a "$T/pid"), expected 600"
# -j/--jobs; a --pidfile that is a symlink is refused (O_NOFOLLOW), its target left alone
ln -s "$T/pid.target" "$T/pid.link"
"$CRIU_MEM" restore -t "$TPID" -D "$T/img" -j 1 --no-progress --pidfile "$T/pid.link" \
	>/dev/null 2>"$T/r2.err" && die "restore wrote its pid file through a symlink"
grep -q "cannot write pid file '$T/pid.link'" "$T/r2.err" || die "no pidfile error: $(cat "$T/r2.err")"
[ ! -e "$T/pid.target" ] || die "the symlink's target was created"
assert_running "$TPID"
layout "$TPID" >"$T/l1"
diff "$T/l0" "$T/l1" >&2 || die "layout changed by a restore onto unchanged memory"
selftest "$TPID" "$T/tgt_mem.out" 0
echo "ok unchanged: $(cat "$T/r.json")"
rm -rf "$T/img"

# Everything at once, 8 spinning threads included.
rm -f "$T/tgt_mem.out"
TGT_MEM_VMAS=1000 roundtrip all
