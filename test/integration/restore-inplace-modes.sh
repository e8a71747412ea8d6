#!/bin/bash
# SPDX-License-Identifier: MIT
# In-place restore of every tgt_mem mode: dump --leave-running, scramble
# (contents rewritten, VMAs unmapped/remapped/mprotected, new mappings, brk
# grown, madvise flags and a guard page), restore -t PID; the maps and smaps
# VmFlags must equal the ones at dump time and the target's own checksums
# must pass.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/restore-inplace-lib.sh"
export TGT_MEM_DIR=$T
export TGT_MEM_VMAS=2000

for mode in anon shared fileprivate fileshared protnone mprotect sparse thp threads memfd \
	    manyvmas; do
	roundtrip "$mode"
done
