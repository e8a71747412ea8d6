#!/bin/bash
# SPDX-License-Identifier: MIT
# Every tgt_mem layout dumped with --xfer=readv --leave-running: the image
# equals the live target page for page, nothing present is missing, maps and
# fds are unchanged, the target runs untraced and its self-check passes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dump-lib.sh"
dump_all_modes readv
