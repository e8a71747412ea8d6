#!/bin/bash
# SPDX-License-Identifier: MIT
# criu-mem diff between two dumps of tgt_debug reports exactly the pages the
# target changed in its data region (with byte counts) and the VMA it mapped
# in between; a dump compared with itself shows no difference.
. "$(dirname "$0")/../lib.sh"

start_target tgt_debug
out=$T/tgt_debug.out
"$CRIU_MEM" dump -t "$TPID" -D "$T/d1" --leave-running || die "dump 1 failed"
kill -USR1 "$TPID"
for i in $(seq 200); do grep -q '^changed' "$out" && break; sleep 0.05; done
grep -q '^changed' "$out" || die "target did not change its memory"
"$CRIU_MEM" dump -t "$TPID" -D "$T/d2" --leave-running || die "dump 2 failed"
# the same state as an incremental child of d1: its unchanged pages are PE_PARENT
"$CRIU_MEM" dump -t "$TPID" -D "$T/d3" --leave-running --prev-images-dir ../d1 ||
	die "incremental dump failed"
assert_running "$TPID"

"$CRIU_MEM" diff "$T/d1" "$T/d1" >"$T/same"; rc=$?
[ $rc = 0 ] || die "diff of a dump with itself: rc $rc: $(cat "$T/same")"
grep -q "^summary: 0 VMAs added, 0 removed, 0 changed; 0 page ranges" "$T/same" || die "$(cat "$T/same")"

"$CRIU_MEM" diff "$T/d1" "$T/d2" >"$T/text"; rc=$?
[ $rc = 5 ] || die "diff exit status $rc, expected 5"
cat "$T/text"
for child in d2 d3; do
	"$CRIU_MEM" diff --json "$T/d1" "$T/$child" >"$T/json"; rc=$?
	[ $rc = 5 ] || die "diff --json exit status $rc, expected 5"

	python3 - "$T/json" "$out" "$(getconf PAGESIZE)" <<-'PY' || die "diff d1 $child does not match the target's changes"
import json, sys
d = json.load(open(sys.argv[1]))
ps = int(sys.argv[3])
lines = [l.split() for l in open(sys.argv[2])]
region = next((int(l[1], 16), int(l[2])) for l in lines if l[0] == "region")
newvma = next((int(l[1], 16), int(l[2])) for l in lines if l[0] == "newvma")
# expected: ranges of changed pages in the region, merged, with byte counts
pages = {}
for l in lines:
    if l[0] == "change":
        a, n = int(l[1], 16), int(l[2])
        pg = a // ps * ps
        pages[pg] = pages.get(pg, 0) + n
want, cur = [], None
for pg in sorted(pages):
    if cur and cur[1] == pg:
        cur[1] += ps; cur[2] += pages[pg]
    else:
        cur = [pg, pg + ps, pages[pg]]; want.append(cur)
r0, r1 = region[0], region[0] + region[1]
got = [[int(p["start"], 16), int(p["end"], 16), p["bytes"]] for p in d["pages"]
       if p["state"] == "changed" and r0 <= int(p["start"], 16) < r1]
other = [p for p in d["pages"] if p["state"] != "changed" and r0 <= int(p["start"], 16) < r1]
added = [(int(v["new"]["start"], 16), int(v["new"]["end"], 16)) for v in d["vmas"]
         if v["change"] == "added"]
ok = got == want and not other and (newvma[0], newvma[0] + newvma[1]) in added
ok = ok and d["summary"]["vmas_added"] == len(added) >= 1 and d["summary"]["vmas_removed"] == 0
if not ok:
    print("got", [[hex(a), hex(b), n] for a, b, n in got], "other", other, "added",
          [(hex(a), hex(b)) for a, b in added])
    print("want", [[hex(a), hex(b), n] for a, b, n in want], "newvma", hex(newvma[0]))
    sys.exit(1)
print("diff: region ranges", [[hex(a), hex(b), n] for a, b, n in got], "new VMA", hex(newvma[0]))
	PY
done
grep -q "^vma added .*$(printf %012x $(($(awk '/^newvma/{print $2}' "$out"))))-" "$T/text" ||
	die "text output lacks the added VMA"
echo "diff: ok"
