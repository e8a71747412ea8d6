#!/bin/bash
# SPDX-License-Identifier: MIT
# Guard regions (MADV_GUARD_INSTALL) round-trip in place, on a real
# interpreter: python3 maps 64 pages with a pattern and guards pages 10-11;
# after the dump its scramble removes that guard, overwrites every page and
# guards page 40 instead. After restore -t, pagemap must show exactly pages
# 10-11 as guards, every other page its pattern again, and the layout and
# VmFlags must be the ones at dump time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"

PY=$(command -v python3) || skip "no python3"
PY=$("$PY" -c 'import sys; print(sys.executable)') || skip "python3 does not run"
cat >"$T/guards.py" <<'PYEOF'
import ctypes, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PS, N, INSTALL, REMOVE = 4096, 64, 102, 103
base = libc.mmap(None, N * PS, 3, 0x22, -1, 0)

def pat(i):
    return bytes([(i * 7 + 1) & 0xff]) * PS

def guards():
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(base // PS * 8)
        d = f.read(N * 8)
    return [i for i in range(N) if int.from_bytes(d[i * 8:i * 8 + 8], "little") >> 58 & 1]

for i in range(N):
    ctypes.memmove(base + i * PS, pat(i), PS)
if libc.madvise(base + 10 * PS, 2 * PS, INSTALL):
    print("no guard regions here", flush=True)
    sys.exit(77)
st = {"usr1": 0, "usr2": 0}
signal.signal(signal.SIGUSR1, lambda *a: st.__setitem__("usr1", 1))
signal.signal(signal.SIGUSR2, lambda *a: st.__setitem__("usr2", 1))
print("ready", hex(base), guards(), flush=True)
while not st["usr1"]:
    signal.pause()
    if st["usr2"]:
        st["usr2"] = 0
        libc.madvise(base + 10 * PS, 2 * PS, REMOVE)
        for i in range(N):
            ctypes.memmove(base + i * PS, b"x" * PS, PS)
        libc.madvise(base + 40 * PS, PS, INSTALL)
        print("scrambled", guards(), flush=True)
g = guards()
bad = [i for i in range(N) if i not in (10, 11) and ctypes.string_at(base + i * PS, PS) != pat(i)]
print("guards", g, "bad", bad, flush=True)
sys.exit(0 if g == [10, 11] and not bad else 1)
PYEOF

"$PY" "$T/guards.py" </dev/null >"$T/py.out" 2>"$T/py.err" &
P=$!
CHILDREN+=("$P")
for i in $(seq 200); do
	grep -q '^ready' "$T/py.out" 2>/dev/null && break
	kill -0 "$P" 2>/dev/null || break
	sleep 0.05
done
grep -q '^no guard regions' "$T/py.out" && skip "MADV_GUARD_INSTALL unsupported"
grep -q '^ready .* \[10, 11\]$' "$T/py.out" || die "python target not ready: $(cat "$T/py.out" "$T/py.err")"
layout "$P" >"$T/l.dump"
"$CRIU_MEM" dump -t "$P" -D "$T/img" --leave-running --no-fsync --no-progress >/dev/null \
	2>"$T/dump.err" || die "dump failed: $(cat "$T/dump.err")"
kill -USR2 "$P"
wait_line "$T/py.out" '^scrambled \[40\]$'
"$CRIU_MEM" restore -t "$P" -D "$T/img" --no-progress >"$T/r.out" 2>"$T/r.err" ||
	die "restore failed: $(cat "$T/r.err")"
assert_running "$P"
layout "$P" >"$T/l.restored"
diff "$T/l.dump" "$T/l.restored" >&2 || die "layout after restore differs from the one at dump time"
kill -USR1 "$P"
wait "$P"
rc=$?
[ "$rc" = 0 ] || die "python self-check failed (rc $rc): $(tail -2 "$T/py.out") $(cat "$T/py.err")"
echo "ok guards: $(tail -1 "$T/py.out"); $(cat "$T/r.out")"
