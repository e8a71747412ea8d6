#!/bin/bash
# SPDX-License-Identifier: MIT
# Fd table and per-task state of a new process, on a python3 target: a file
# read at an offset, a file opened for append, a read-write file with its
# position, /dev/null, a pipe with both ends in the process, a named FIFO
# (reopened by path), a directory, a pipe to the parent (--inherit-fd), std
# fds inherited; umask, cwd,
# personality, blocked and ignored signals, handlers, faulthandler's
# sigaltstack. The restored python checks them itself. Then an unsupported
# fd (a socket): refused clearly, or left closed with --skip-unsupported-fds.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-new-lib.sh"

PY=$(command -v python3) || skip "no python3"
PY=$("$PY" -c 'import sys; print(sys.executable)') || skip "python3 does not run"

mkdir -p "$T/wd"
printf '0123456789ABCDEFGHIJ' >"$T/wd/data.txt"
head -c 4096 /dev/zero >"$T/wd/rw.bin"
mkfifo "$T/wd/fifo"
cat >"$T/fds.py" <<'PYEOF'
import ctypes, faulthandler, os, signal, socket, sys, time
d, with_socket = sys.argv[1], sys.argv[2] == "1"
faulthandler.enable()                       # sigaltstack + handlers
os.umask(0o027)
os.chdir(d)
ctypes.CDLL(None).personality(0x0040000)    # ADDR_NO_RANDOMIZE
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
signal.signal(signal.SIGHUP, signal.SIG_IGN)
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
data = open("data.txt", "rb", buffering=0)
data.read(10)
log = open("log.txt", "a")
null = open("/dev/null", "w")
r, w = os.pipe()
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
rw = open("rw.bin", "r+b", buffering=0)
rw.seek(100)
fifo = os.open("fifo", os.O_RDWR)
sock = socket.socket() if with_socket else None
print("ready", flush=True)
while not got:
    time.sleep(0.01)
bad = []
def check(what, cond):
    if not cond:
        bad.append(what)
check("data offset", data.read(5) == b"ABCDE")
os.write(w, b"hello")
check("pipe", os.read(r, 5) == b"hello")
os.write(fifo, b"fifo")
check("named fifo", os.read(fifo, 4) == b"fifo")
check("dir fd", "data.txt" in os.listdir(dfd))
rw.write(b"X")
check("rw offset", open("rw.bin", "rb").read()[100:101] == b"X")
log.write("after\n"); log.flush()
check("log append", open("log.txt").read() == "before\nafter\n")
null.write("x"); null.flush()
check("cwd", os.getcwd() == d)
check("umask", os.umask(0o022) == 0o027)
check("personality", ctypes.CDLL(None).personality(0xffffffff) == 0x0040000)
check("sigmask", signal.SIGUSR2 in signal.pthread_sigmask(signal.SIG_BLOCK, []))
check("SIGHUP ignored", signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)
check("faulthandler", faulthandler.is_enabled())
def closed(fd):
    try:
        os.fstat(fd)
        return False
    except OSError:
        return True
check("socket closed", not with_socket or closed(sock.fileno()))
os.write(5, b"parent pipe ok\n")
print("ok" if not bad else "bad " + " ".join(bad), flush=True)
sys.exit(1 if bad else 0)
PYEOF
echo before >"$T/wd/log.txt"

# run_py WITH_SOCKET: starts python with fd 5 a pipe to a reader; sets PYPID.
run_py() {
	exec 5> >(cat >"$T/parent.out")
	"$PY" "$T/fds.py" "$T/wd" "$1" </dev/null >"$T/py.out" 2>"$T/py.err" &
	PYPID=$!
	exec 5>&-
	CHILDREN+=("$PYPID")
	for i in $(seq 400); do
		grep -q '^ready' "$T/py.out" && return 0
		kill -0 "$PYPID" 2>/dev/null || die "python exited: $(cat "$T/py.err")"
		sleep 0.05
	done
	die "python not ready"
}

run_py 0
task_sig "$PYPID" >"$T/task.before"
grep -q '^fd 5 pipe' "$T/task.before" || die "no pipe at fd 5: $(cat "$T/task.before")"
grep -q "^fd [0-9]* $T/wd/fifo " "$T/task.before" || die "no FIFO fd: $(cat "$T/task.before")"
dump_kill "$PYPID" "$T/img"
# The pipe to the parent comes back through --inherit-fd from a new reader.
exec 7> >(cat >"$T/parent2.out")
"$CRIU_MEM" restore -D "$T/img" --pidfile "$T/pid" --inherit-fd 'fd[7]:5' \
	--stdout "$T/restored.out" 2>"$T/restore.err" &
cm=$!
exec 7>&-
CHILDREN+=("$cm")
rpid=$(wait_pidfile "$T/pid" "$cm") || exit 1
CHILDREN+=("$rpid")
task_sig "$rpid" >"$T/task.after"
diff "$T/task.before" "$T/task.after" >"$T/task.diff" ||
	die "task state or fds differ: $(cat "$T/task.diff")"
redump_compare "$T/img" "$rpid"
kill -USR1 "$rpid"
wait "$cm"
rc=$?
[ "$rc" = 0 ] || die "restored python failed (rc $rc): $(cat "$T/restored.out" "$T/restore.err")"
grep -q '^ok$' "$T/restored.out" || die "no ok: $(cat "$T/restored.out")"
for i in $(seq 100); do grep -q 'parent pipe ok' "$T/parent2.out" && break; sleep 0.05; done
grep -q 'parent pipe ok' "$T/parent2.out" || die "nothing came through the inherited pipe"
echo "ok fds and task state"

# An unsupported fd: the dump records it only with --skip-unsupported-fds.
echo before >"$T/wd/log.txt"
run_py 1
"$CRIU_MEM" dump -t "$PYPID" -D "$T/img2" --no-fsync --no-progress >"$T/dump.out" 2>"$T/dump.err" &&
	die "dump of a process with a socket succeeded without --skip-unsupported-fds"
grep -qi 'unsupported' "$T/dump.err" || die "no clear dump error: $(cat "$T/dump.err")"
"$CRIU_MEM" dump -t "$PYPID" -D "$T/img2" --no-fsync --no-progress --skip-unsupported-fds \
	>"$T/dump.out" 2>"$T/dump.err" || die "dump --skip-unsupported-fds failed: $(cat "$T/dump.err")"
wait "$PYPID" 2>/dev/null
"$CRIU_MEM" restore -D "$T/img2" -d --pidfile "$T/pid2" --inherit-fd 'fd[1]:5' >/dev/null \
	2>"$T/restore2.err" &&
	die "restore of an unsupported fd succeeded without --skip-unsupported-fds"
grep -q 'unsupported fd, use --skip-unsupported-fds' "$T/restore2.err" ||
	die "no clear restore error: $(cat "$T/restore2.err")"
[ -e "$T/pid2" ] && die "pid file written by a failed restore"
[ -e "/proc/$PYPID" ] && die "half-built process $PYPID left behind"
exec 7> >(cat >"$T/parent3.out")
"$CRIU_MEM" restore -D "$T/img2" --pidfile "$T/pid3" --skip-unsupported-fds --inherit-fd 'fd[7]:5' \
	>"$T/restored3.out" 2>"$T/restore3.err" &
cm=$!
exec 7>&-
CHILDREN+=("$cm")
rpid=$(wait_pidfile "$T/pid3" "$cm") || exit 1
CHILDREN+=("$rpid")
kill -USR1 "$rpid"
wait "$cm"
rc=$?
grep -q '^ok$' "$T/restored3.out" && [ "$rc" = 0 ] ||
	die "restore with --skip-unsupported-fds: rc $rc: $(cat "$T/restored3.out" "$T/restore3.err")"
echo "ok unsupported fd refused, then skipped"
