#!/bin/bash
# SPDX-License-Identifier: MIT
# show / decode / verify on the golden image: text and --json output, a
# flipped byte in a frame payload reported by verify (exit 3, names the
# frame), and decode on 10 MB of random bytes failing cleanly.
. "$(dirname "$0")/../lib.sh"

G=test/data/golden-v1
[ -d "$G" ] || die "golden image $G missing"
cp -r "$G" "$T/img"
cp -r test/data/golden-v1-incr "$T/golden-v1-incr"
ln -s img "$T/golden-v1"

for c in show decode verify; do
	"$CRIU_MEM" $c --help | grep -q "usage: criu-mem $c" || die "$c --help"
done

# show
"$CRIU_MEM" show "$T/img" >"$T/show.txt" || die "show failed"
grep -q "root pid 4242" "$T/show.txt" || die "show: no root pid"
grep -q '\[heap\]' "$T/show.txt" || die "show: no heap VMA"
grep -q "pages: 24 stored, 6 zero, 0 parent" "$T/show.txt" || die "show: page counts: $(cat "$T/show.txt")"
"$CRIU_MEM" show --json "$T/img" | python3 -m json.tool >/dev/null || die "show --json"
"$CRIU_MEM" show --vma 0x555555570010 "$T/img" >"$T/vma.txt" || die "show --vma"
grep -q "runs:" "$T/vma.txt" && ! grep -q '\[stack\]' "$T/vma.txt" || die "show --vma: $(cat "$T/vma.txt")"
"$CRIU_MEM" show "$T/golden-v1-incr" | grep -q "parent 1111" || die "show: no parent id"

# decode: every file, text and JSON
for f in "$T"/img/*.img; do
	"$CRIU_MEM" decode "$f" >"$T/dec.txt" || die "decode $f"
	"$CRIU_MEM" decode --json "$f" | python3 -m json.tool >/dev/null || die "decode --json $f"
done
"$CRIU_MEM" decode "$T/img/mm-4242.img" | grep -q 'kind: VMA_HEAP' || die "decode: enum by name"
"$CRIU_MEM" decode "$T/img/pages-4242.img" | grep -q '^frame 7 ' || die "decode: frame headers"
"$CRIU_MEM" decode "$T/img/core-4242.img" | grep -q 'gpregs: abab' || die "decode: bytes as hex"

# verify: clean images
"$CRIU_MEM" verify "$T/img" | grep -q '^ok' || die "verify on the golden image"
"$CRIU_MEM" verify "$T/golden-v1-incr" | grep -q '^ok' || die "verify on the incremental image"
"$CRIU_MEM" verify --json "$T/img" | python3 -m json.tool >/dev/null || die "verify --json"
"$CRIU_MEM" verify -j 2 "$T/img" | grep -q '^ok' || die "verify -j 2"
"$CRIU_MEM" verify --threads 1 "$T/img" | grep -q '^ok' || die "verify --threads 1"
"$CRIU_MEM" verify -t 1 "$T/img" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || die "verify -t 1 exited $rc, expected 2 (usage: -t is no longer verify's)"

# verify: one flipped byte in the payload of frame 2
cp -r "$T/img" "$T/bad"
off=$("$CRIU_MEM" decode "$T/bad/pages-4242.img" | awk '$1 == "frame" && $2 == 2 {sub(":", "", $5); print $5}')
[ -n "$off" ] || die "no offset for frame 2"
python3 - "$T/bad/pages-4242.img" $((off + 40 + 17)) <<'PY' || die "flip"
import sys
f = open(sys.argv[1], 'r+b'); o = int(sys.argv[2]); f.seek(o); b = f.read(1); f.seek(o)
f.write(bytes([b[0] ^ 0x40]))
PY
"$CRIU_MEM" verify "$T/bad" >"$T/verify.txt"
rc=$?
cat "$T/verify.txt"
[ $rc = 3 ] || die "verify exit $rc, expected 3"
grep -q "frame 2" "$T/verify.txt" || die "verify does not name frame 2"
grep -q "problems found" "$T/verify.txt" || die "verify: no problem count"
"$CRIU_MEM" verify --json "$T/bad" | python3 -m json.tool >/dev/null || die "verify --json on a bad image"

# verify: a missing parent is a problem
rm "$T/golden-v1"
"$CRIU_MEM" verify "$T/golden-v1-incr" >"$T/v2.txt"
[ $? = 3 ] && grep -q "parent image" "$T/v2.txt" || die "missing parent not reported: $(cat "$T/v2.txt")"

# decode: garbage
head -c 10000000 /dev/urandom >"$T/random.bin"
"$CRIU_MEM" decode "$T/random.bin" >/dev/null 2>"$T/err.txt"
rc=$?
[ $rc != 0 ] && [ $rc -lt 128 ] || die "decode on random bytes: exit $rc"
grep -q "not a criu-mem image" "$T/err.txt" || die "decode: unclear message: $(cat "$T/err.txt")"
# a valid header followed by garbage
head -c 20 "$T/img/mm-4242.img" >"$T/hdr.bin"
head -c 1000000 /dev/urandom >>"$T/hdr.bin"
"$CRIU_MEM" decode "$T/hdr.bin" >/dev/null 2>"$T/err.txt"
rc=$?
[ $rc = 3 ] || die "decode on header + garbage: exit $rc"
grep -q "error: decode: " "$T/err.txt" || die "decode: no message"
echo "img-cli ok"
