#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages criu-mem needs to build and test, when missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -e
PKGS="gcc make protobuf-c-compiler libprotobuf-c-dev libzstd-dev zstd libxxhash-dev \
libnl-3-dev libnl-genl-3-dev clang libclang-rt-dev gdb python3 procps binutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "criu-mem: missing packages:$missing" >&2
	echo "run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
$cmd >&2
