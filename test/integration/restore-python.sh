#!/bin/bash
# SPDX-License-Identifier: MIT
# A real interpreter as a new process: python3 counting into a file (opened
# for append, flushed every line, 10 ms sleeps) is dumped (and killed),
# restored from the image alone with -d, and continues counting where it
# stopped: the file's numbers stay consecutive, no gap and no repeat, for at
# least 50 more lines. Its maps and VmFlags equal the ones at dump time.
# Then the same with a worker thread joined by the main thread.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"

PY=$(command -v python3) || skip "no python3"
# Resolve wrappers (pyenv shims are shell scripts) to the interpreter itself.
PY=$("$PY" -c 'import sys; print(sys.executable)') || skip "python3 does not run"
[ -x "$PY" ] || skip "no python3 executable"

count="$T/count.txt"
cd "$T" || die "cd $T"
"$PY" -c '
import sys, time
f = open(sys.argv[1], "a")
i = 0
while True:
    print(i, file=f, flush=True)
    i += 1
    time.sleep(0.01)
' "$count" </dev/null >"$T/py.out" 2>"$T/py.err" &
PPID_=$!
CHILDREN+=("$PPID_")

# check_count FILE: every line is the previous one plus one, from 0.
check_count() {
	awk 'NR - 1 != $1 { printf "line %d is \"%s\"\n", NR, $0; bad = 1; exit }
	     END { exit bad }' "$1"
}

for i in $(seq 400); do
	[ "$(wc -l <"$count" 2>/dev/null || echo 0)" -ge 50 ] && break
	sleep 0.05
done
[ "$(wc -l <"$count")" -ge 50 ] || die "python did not count: $(cat "$T/py.err")"
vma_sig "$PPID_" >"$T/before"
dump_kill "$PPID_" "$T/img"
n0=$(wc -l <"$count")
sleep 0.3
[ "$(wc -l <"$count")" = "$n0" ] || die "the file grew after the dump killed python"

"$CRIU_MEM" restore -D "$T/img" -d --pidfile "$T/pid" >"$T/restore.out" 2>"$T/restore.err" ||
	die "restore failed: $(cat "$T/restore.err")"
rpid=$(wait_pidfile "$T/pid") || exit 1
CHILDREN+=("$rpid")
[ "$rpid" = "$PPID_" ] || die "restored with pid $rpid, not $PPID_"
assert_running "$rpid"
vma_sig "$rpid" >"$T/after"
diff "$T/before" "$T/after" >"$T/maps.diff" || die "maps/VmFlags differ: $(cat "$T/maps.diff")"
for i in $(seq 400); do
	[ "$(wc -l <"$count")" -ge $((n0 + 50)) ] && break
	kill -0 "$rpid" 2>/dev/null || die "restored python died: $(tail -5 "$T/py.err")"
	sleep 0.05
done
kill -KILL "$rpid"
wait_gone "$rpid"
n1=$(wc -l <"$count")
[ "$n1" -ge $((n0 + 50)) ] || die "restored python counted only $((n1 - n0)) more lines"
check_count "$count" >"$T/count.check" || die "count broken after restore: $(cat "$T/count.check")"
[ -s "$T/py.err" ] && die "python wrote to stderr: $(cat "$T/py.err")"
echo "ok python counted $n0 lines, then $((n1 - n0)) more after the restore"

# Threads: a worker counts to 300 while the main thread joins it. Restored
# with both tids, the worker finishes, the join returns (futexes, clear-tid
# address, robust lists, rseq of both threads) and criu-mem, waiting without
# -d, returns python's exit status 0.
count2="$T/count2.txt"
"$PY" -c '
import ctypes, sys, threading, time
f = open(sys.argv[1], "a")
def work():
    ctypes.CDLL(None).prctl(15, b"worker", 0, 0, 0)
    for i in range(300):
        print(i, file=f, flush=True)
        time.sleep(0.01)
t = threading.Thread(target=work)
t.start()
t.join()
print("joined", flush=True)
' "$count2" </dev/null >"$T/py2.out" 2>"$T/py2.err" &
PPID_=$!
CHILDREN+=("$PPID_")
for i in $(seq 400); do
	[ "$(wc -l <"$count2" 2>/dev/null || echo 0)" -ge 50 ] && break
	sleep 0.05
done
ls "/proc/$PPID_/task" >"$T/tasks.before"
[ "$(wc -l <"$T/tasks.before")" = 2 ] || die "python does not have 2 threads"
cat "/proc/$PPID_"/task/*/comm >>"$T/tasks.before"
grep -q '^worker$' "$T/tasks.before" || die "worker thread not named"
dump_kill "$PPID_" "$T/img2"
n0=$(wc -l <"$count2")
"$CRIU_MEM" restore -D "$T/img2" --pidfile "$T/pid2" --stdout "$T/py2r.out" \
	2>"$T/restore2.err" &
cm=$!
CHILDREN+=("$cm")
rpid=$(wait_pidfile "$T/pid2" "$cm") || exit 1
{ ls "/proc/$rpid/task"; cat "/proc/$rpid"/task/*/comm; } >"$T/tasks.after" 2>/dev/null
diff "$T/tasks.before" "$T/tasks.after" >&2 || die "threads or their names differ after restore"
wait "$cm"
rc=$?
[ "$rc" = 0 ] || die "threaded python: criu-mem returned $rc: $(cat "$T/restore2.err")"
grep -q '^joined$' "$T/py2r.out" || die "the join did not return: $(cat "$T/py2r.out")"
[ "$(wc -l <"$count2")" = 300 ] || die "threaded python wrote $(wc -l <"$count2") lines, not 300"
check_count "$count2" >"$T/count.check" || die "threaded count broken: $(cat "$T/count.check")"
echo "ok threaded python: $n0 lines before the dump, joined at 300 after the restore"
