#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end: dump tgt_debug (built with -g), write a core with criu-mem core,
# and check that gdb prints global_counter as it was at dump time and a
# backtrace through wait_here <- do_work <- worker_loop <- main, sees both
# threads, reads dumped memory, and that VM_DONTDUMP is honoured unless --all.
. "$(dirname "$0")/../lib.sh"

command -v gdb >/dev/null || skip "gdb is not installed (make deps installs it)"
start_target tgt_debug
out=$T/tgt_debug.out
prog=$TARGETS/tgt_debug
"$CRIU_MEM" dump -t "$TPID" -D "$T/img" --leave-running || die "dump failed"
assert_running "$TPID"
counter=$(sed -n 's/^ready counter=//p' "$out")
dd=$(awk '/^dontdump/{print $2}' "$out")

"$CRIU_MEM" core -q "$T/img" -o "$T/core" || die "criu-mem core failed"
[ "$(stat -c %a "$T/core")" = 600 ] || die "core file mode $(stat -c %a "$T/core")"
size=$(stat -c %s "$T/core")
alloc=$(($(stat -c %b "$T/core") * $(stat -c %B "$T/core")))
[ "$alloc" -lt "$size" ] || die "core is not sparse ($alloc of $size bytes allocated)"
readelf -h "$T/core" | grep -q 'CORE (Core file)' || die "not an ELF core"
readelf -n "$T/core" >"$T/notes" 2>&1
for n in NT_PRSTATUS NT_PRPSINFO NT_AUXV NT_FILE NT_FPREGSET NT_X86_XSTATE; do
	grep -q "$n" "$T/notes" || die "core lacks $n"
done
[ "$(grep -c NT_PRSTATUS "$T/notes")" = 2 ] || die "expected 2 threads' NT_PRSTATUS"

gdb -nx -batch -ex 'print global_counter' -ex 'bt' -ex 'info threads' \
	-ex 'x/s &bss_area[100]' -ex "x/s $dd" "$prog" "$T/core" >"$T/gdb.out" 2>&1
cat "$T/gdb.out"
grep -q "^\$1 = $counter\$" "$T/gdb.out" || die "gdb did not print global_counter = $counter"
frames=$(grep -o '^#[0-9]\+ .* in [a-z_]\+ \|^#[0-9]\+  [a-z_]\+ ' "$T/gdb.out" |
	 awk '{print $NF}' | tr '\n' ' ')
case $frames in
*"wait_here do_work worker_loop main "*) ;;
*) die "backtrace is '$frames'" ;;
esac
grep -q '^\* 1 .*LWP '"$TPID" "$T/gdb.out" || die "thread 1 is not the leader"
grep -q '^  2 .*LWP ' "$T/gdb.out" || die "gdb sees one thread"
grep -q '"CMEM-MARKER-7f3a9c"' "$T/gdb.out" || die "gdb cannot read bss_area from the core"
grep -q 'dontdump-secret' "$T/gdb.out" && die "VM_DONTDUMP memory was written"

# A libc symbol: criu-mem x and gdb agree on its address and its value.
gdb -nx -batch -ex 'print/x (unsigned long)&environ' -ex 'print/x (unsigned long)environ' \
	"$prog" "$T/core" 2>/dev/null | sed -n 's/^\$[12] = 0x//p' >"$T/env.gdb"
xa=$("$CRIU_MEM" x "$T/img" environ 8 | cut -d: -f1 | sed 's/^0*//')
xv=$(printf '%x' "$("$CRIU_MEM" x --raw "$T/img" environ 8 | od -An -tu8 | tr -d ' ')")
[ "$xa $xv" = "$(tr '\n' ' ' <"$T/env.gdb" | sed 's/ $//')" ] ||
	die "environ: criu-mem says $xa = $xv, gdb says $(cat "$T/env.gdb")"

"$CRIU_MEM" core -q --all "$T/img" -o "$T/core-all" || die "criu-mem core --all failed"
gdb -nx -batch -ex "x/s $dd" "$prog" "$T/core-all" 2>&1 | grep -q 'dontdump-secret' ||
	echo "note: the dumper did not store the VM_DONTDUMP page; --all has nothing to add"

# An incremental child image: unchanged pages are read through the parent.
kill -USR1 "$TPID"
for i in $(seq 200); do grep -q '^changed' "$out" && break; sleep 0.05; done
"$CRIU_MEM" dump -t "$TPID" -D "$T/img2" --leave-running --prev-images-dir ../img ||
	die "incremental dump failed"
"$CRIU_MEM" show "$T/img2" | grep -q '^pages: .* [1-9][0-9]* parent' || die "no parent pages in img2"
"$CRIU_MEM" core -q "$T/img2" -o "$T/core2" || die "criu-mem core of the child failed"
m1=$(awk '/^marker/{print $2; exit}' "$out")	# in the data region: a parent page
gdb -nx -batch -ex 'print global_counter' -ex "x/s $m1" "$prog" "$T/core2" \
	>"$T/gdb2.out" 2>&1
grep -q "^\$1 = $((counter + 1))\$" "$T/gdb2.out" || die "child core: $(cat "$T/gdb2.out")"
grep -q '"CMEM-MARKER-7f3a9c' "$T/gdb2.out" || die "child core lacks parent pages"

# A hostile image: the core writer fails with a message and leaves no file.
cp -r "$T/img" "$T/bad"
f=$(ls "$T/bad"/core-*.img)
printf 'garbage' | dd of="$f" bs=1 seek=30 conv=notrunc 2>/dev/null
"$CRIU_MEM" core -q "$T/bad" -o "$T/core-bad" 2>"$T/err" && die "core accepted a corrupt image"
[ -s "$T/err" ] || die "no error message for a corrupt image"
[ ! -e "$T/core-bad" ] || die "a corrupt image left a core file"
assert_running "$TPID"
echo "core: ok"
