# SPDX-License-Identifier: MIT
# Sourced by integration tests. Gives: CRIU_MEM, TARGETS, a scratch dir $T,
# start_target (waits for the target's "ready" line), progresses, and a trap
# that kills and reaps every child and removes $T whatever happens.
set -u
: "${CM_BUILD:=$(realpath build)}"
: "${CRIU_MEM:=$CM_BUILD/criu-mem}"
TARGETS="$CM_BUILD/test/targets"
T=$(mktemp -d /tmp/cm-test.XXXXXX)
CHILDREN=()

cleanup() {
	local p
	for p in "${CHILDREN[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

die() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }

# start_target NAME [ARGS...]: runs a target in the background with its
# stdout in $T/NAME.out; waits up to 20 s for a line "ready"; sets TPID.
start_target() {
	local name=$1 i
	shift
	# A "ready" left by an earlier target of the same name must not count.
	rm -f "$T/$name.out"
	"$TARGETS/$name" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	TPID=$!
	CHILDREN+=("$TPID")
	for i in $(seq 400); do
		grep -q '^ready' "$T/$name.out" 2>/dev/null && return 0
		kill -0 "$TPID" 2>/dev/null || die "target $name exited early: $(cat "$T/$name.err")"
		sleep 0.05
	done
	die "target $name not ready after 20 s"
}

# proc_state PID: the one-letter state from /proc/PID/stat.
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# assert_running PID: alive, not stopped, not traced.
assert_running() {
	local st tr
	kill -0 "$1" 2>/dev/null || die "target $1 is gone"
	st=$(proc_state "$1")
	[ "$st" != T ] && [ "$st" != t ] || die "target $1 left stopped (state $st)"
	tr=$(awk '/^TracerPid:/{print $2}' "/proc/$1/status")
	[ "$tr" = 0 ] || die "target $1 still traced by $tr"
}

# progresses FILE PATTERN: the last line matching PATTERN changes within 10 s
progresses() {
	local a b
	a=$(grep "$2" "$1" | tail -1)
	for _ in $(seq 200); do
		sleep 0.05
		b=$(grep "$2" "$1" | tail -1)
		[ "$a" != "$b" ] && return 0
	done
	return 1
}

# each_freezer FUNC NAME: runs "FUNC v2 CGROUP" under the cgroup2 mount and
# "FUNC v1 CGROUP" under the v1 freezer mount (CGROUP = MOUNT/NAME-PID);
# skips the test when neither is mounted or FUNC succeeded for none.
each_freezer() {
	local fn=$1 name=$2 ran=0 m
	m=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
	if [ -n "$m" ] && "$fn" v2 "$m/$name-$$"; then ran=1; fi
	m=$(awk '$3 == "cgroup" && $4 ~ /freezer/ {print $2; exit}' /proc/mounts)
	if [ -n "$m" ] && "$fn" v1 "$m/$name-$$"; then ran=1; fi
	[ $ran = 1 ] || skip "no usable cgroup v2 or v1 freezer"
}
