#!/bin/bash
# SPDX-License-Identifier: MIT
# "criu-mem check": exits 0, reports every feature as yes/no (text) or
# true/false (--json, valid JSON), names a path per capability, and its
# answers agree with what this machine demonstrably has.
. "$(dirname "$0")/../lib.sh"

"$CRIU_MEM" check >"$T/text" 2>"$T/err" || die "check exited $?: $(cat "$T/err")"
for k in PAGEMAP_SCAN PROCMAP_QUERY WP_ASYNC soft-dirty "cgroup v2" "cgroup v1" pidfd_open \
	 pidfd_getfd process_madvise process_vm_readv CAP_CHECKPOINT_RESTORE "clone3 with set_tid"; do
	grep -qE "^  (yes|no) +.*$k" "$T/text" || die "text output lacks '$k'"
done
grep -q '^  page_scan ' "$T/text" || die "no page_scan path"
grep -qE '^pipe-max-size: [0-9]+$' "$T/text" || die "no pipe-max-size"
grep -qE '^THP: (always|madvise|never)' "$T/text" || die "no THP mode"

"$CRIU_MEM" check --json >"$T/json" || die "check --json exited $?"
python3 - "$T/json" <<'PY' || die "bad JSON: $(cat "$T/json")"
import json, os, sys
d = json.load(open(sys.argv[1]))
f = d["features"]
assert all(isinstance(v, bool) for v in f.values()), f
for k in ("pagemap_scan", "procmap_query", "uffd_wp_async", "soft_dirty", "cg2_freeze",
          "cg1_freezer", "pidfd_open", "pidfd_getfd", "process_madvise", "process_vm_readv",
          "cap_ckpt", "clone3_set_tid"):
    assert k in f, k
assert f["process_vm_readv"] is True
assert f["pidfd_open"] is True          # kernel >= 5.3 everywhere we run
assert d["pipe_max_size"] == int(open("/proc/sys/fs/pipe-max-size").read())
thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read()
assert "[" + d["thp"] + "]" in thp, (d["thp"], thp)
mounts = open("/proc/mounts").read()
assert (d["cgroup2_mount"] is not None) == (" cgroup2 " in mounts)
assert d["paths"]["page_scan"] == ("PAGEMAP_SCAN ioctl" if f["pagemap_scan"] else "/proc/PID/pagemap read")
PY
"$CRIU_MEM" check --bogus >/dev/null 2>&1 && die "bad option accepted"
echo ok
