#!/bin/bash
# SPDX-License-Identifier: MIT
# --prev-images-dir: pages equal to the parent's become PE_PARENT runs, a
# page changed since the parent is stored, the image reads back equal to the
# live target through the parent chain, and the inventory names the parent.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"

rm -f "$T/tgt_mem.out"
start_target tgt_mem big 21 64
addr=$(awk '/^region big /{print $3}' "$T/tgt_mem.out")
"$CRIU_MEM" dump -t "$TPID" -D "$T/d1" --leave-running --no-fsync >/dev/null || die "first dump failed"

# Change one page of the target, remembering the old bytes.
python3 - "$TPID" "$addr" "$T/orig" <<'PY' || die "cannot change the target"
import os, sys
f = os.open("/proc/%s/mem" % sys.argv[1], os.O_RDWR)
a = int(sys.argv[2], 16) + 4096 * 100
open(sys.argv[3], "wb").write(os.pread(f, 4096, a))
os.pwrite(f, b"changed!" * 512, a)
PY

"$CRIU_MEM" dump -t "$TPID" -D "$T/d2" --leave-running --no-fsync --prev-images-dir ../d1 --json \
	>"$T/j2" 2>"$T/err" || die "incremental dump failed: $(cat "$T/err")"
python3 - "$T/j2" <<'PY' || die "unexpected incremental figures: $(cat "$T/j2")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["pages_parent"] >= 16000, j
assert 1 <= j["pages_stored"] < 2000, j
PY
"$CRIU_MEM" decode "$T/d2/inventory.img" | grep -q 'parent_path: "../d1"' ||
	die "inventory lacks parent_path"
"$CM_BUILD/test/cm-imgcheck" "$T/d2" "$TPID" >"$T/check" || die "d2 differs: $(cat "$T/check")"
grep -q "mismatches" "$T/check" && echo "ok: d2: $(cat "$T/check")"
# The old image must not match the changed target: the checker can fail.
"$CM_BUILD/test/cm-imgcheck" "$T/d1" "$TPID" >/dev/null && die "checker missed a changed page"

# Put the page back; a third dump chained on the second (absolute path, vmsplice).
python3 - "$TPID" "$addr" "$T/orig" <<'PY' || die "cannot restore the target"
import os, sys
f = os.open("/proc/%s/mem" % sys.argv[1], os.O_RDWR)
os.pwrite(f, open(sys.argv[3], "rb").read(), int(sys.argv[2], 16) + 4096 * 100)
PY
"$CRIU_MEM" dump -t "$TPID" -D "$T/d3" --leave-running --no-fsync --prev-images-dir "$T/d2" \
	--xfer=vmsplice >"$T/out" 2>"$T/err" || die "chained dump failed: $(cat "$T/err")"
"$CM_BUILD/test/cm-imgcheck" "$T/d3" "$TPID" >"$T/check" || die "d3 differs: $(cat "$T/check")"
echo "ok: d3: $(cat "$T/check")"

check_selftest "$TPID" "$T/tgt_mem.out"

# A parent of another process is refused before the target is touched.
rm -f "$T/tgt_mem.out"
start_target tgt_mem anon 22
"$CRIU_MEM" dump -t "$TPID" -D "$T/d4" --leave-running --prev-images-dir "$T/d1" \
	>"$T/out" 2>"$T/err" && die "dump against another pid's parent succeeded"
grep -q "parent image" "$T/err" || die "unclear error: $(cat "$T/err")"
[ ! -e "$T/d4" ] || die "d4 left behind"
assert_running "$TPID"
check_selftest "$TPID" "$T/tgt_mem.out"
