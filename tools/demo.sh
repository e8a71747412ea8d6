#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job, end to end on a sample process:
#   start a self-checking sample -> dump it (the sample is killed, as with CRIU)
#   -> show and verify the image -> read memory out of it -> restore it as a new
#   process -> the restored sample verifies its own memory and exits 0.
# usage: tools/demo.sh BUILD_DIR
set -euo pipefail
BUILD=$(realpath "${1:-build}")
CM="$BUILD/criu-mem"
SAMPLE="$BUILD/test/targets/tgt_mem"
W=$(mktemp -d /tmp/criu-mem-demo.XXXXXX)
SPID="" RPID=""
cleanup() {
	[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
	[ -n "$RPID" ] && kill -KILL "$RPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start a sample process (anonymous, shared, file and memfd memory)"
mkdir -p "$W/files"
TGT_MEM_DIR="$W/files" setsid "$SAMPLE" all 0x5eed >"$W/sample.out" 2>"$W/sample.err" </dev/null &
SPID=$!
for _ in $(seq 200); do grep -q '^ready' "$W/sample.out" && break; sleep 0.05; done
grep -q '^ready' "$W/sample.out" || { echo "sample did not start"; cat "$W/sample.err"; exit 1; }
echo "sample pid $SPID, $(grep -c '^region' "$W/sample.out") memory regions"

step "criu-mem dump -t $SPID -D $W/img   (the sample is killed afterwards, as with CRIU)"
"$CM" dump -t "$SPID" -D "$W/img" --no-progress
wait "$SPID" 2>/dev/null || true
SPID=""
ls -l "$W/img"

step "criu-mem show $W/img"
"$CM" show "$W/img" >"$W/show.txt"
nv=$(grep -c '^[0-9a-f]*-[0-9a-f]* ' "$W/show.txt" || true)
sed -n '1,/^range/p' "$W/show.txt"
grep -E '^[0-9a-f]+-[0-9a-f]+ ' "$W/show.txt" | grep -v ' 0        0        0 ' | awk '$6 + $7 > 0' | head -12
echo "... ($nv VMAs in all; the table lists each with its stored / zero / absent pages)"
tail -2 "$W/show.txt"

step "criu-mem verify $W/img"
"$CM" verify "$W/img"

step "criu-mem x: the first bytes of the sample's first region, read from the image"
read -r _ name start _ < <(grep '^region' "$W/sample.out" | head -1)
echo "region $name at $start"
"$CM" x "$W/img" "$start" 64

step "criu-mem restore -D $W/img   (a new process, same pid where free)"
"$CM" restore -D "$W/img" --pidfile "$W/restored.pid" &
CMPID=$!
for _ in $(seq 200); do [ -s "$W/restored.pid" ] && break; sleep 0.05; done
RPID=$(cat "$W/restored.pid")
echo "restored pid $RPID: $(tr '\0' ' ' < /proc/"$RPID"/cmdline)"

step "ask the restored sample to verify its own memory (SIGUSR1); it answers on this terminal"
kill -USR1 "$RPID"
rc=0
wait "$CMPID" || rc=$?
RPID=""
if [ "$rc" = 0 ]; then
	echo "demo: the restored process verified every region of its memory: OK"
else
	echo "demo: the restored process reported damage (exit $rc)"
	exit 1
fi
