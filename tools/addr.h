/* SPDX-License-Identifier: MIT */
/*
 * Addresses in a dumped process, for the inspection commands (x, grep,
 * diff, core): naming VMAs, parsing address expressions and looking symbols up in the ELF files the process
 * had mapped.
 *
 * An address expression is one of
 *   NUMBER              0x7f00001000 or decimal
 *   VMA_NAME+OFFSET     "[heap]+0x40", "/usr/lib/libc.so.6+0x1000",
 *                       "libc.so.6+0x1000" (basename); OFFSET is from the
 *                       start of the lowest VMA with that name
 *   SYMBOL[+OFFSET]     "global_counter", "main+4": .symtab, else .dynsym,
 *                       of a mapped ELF file (the executable first)
 * The pure functions (addr_parse_u64, addr_expr_parse, elf_*) do no I/O and
 * validate every offset, so they can be unit-tested and fuzzed.
 */
#ifndef CM_ADDR_H
#define CM_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "img.h"

#define ADDR_NAME_MAX 512

enum addr_kind {
	ADDR_NUM,	/* num is the address */
	ADDR_NAMED,	/* name[+num]: a VMA name or a symbol */
};

struct addr_expr {
	enum addr_kind kind;
	char name[ADDR_NAME_MAX];
	uint64_t num;
};

/* Parses "0x..." hex or decimal, the whole string. 0, -EINVAL or -ERANGE. */
int addr_parse_u64(const char *s, uint64_t *out);
/* Splits an expression. 0 or -EINVAL (empty, bad offset, name too long). */
int addr_expr_parse(const char *s, struct addr_expr *e);

/* A printable name for a VMA: its path, "[heap]", or "[anon]"-like kind names. */
const char *addr_vma_name(const VmaEntry *v);

/* ELF64 little-endian parsing on a buffer (a mapped file). */
struct elf_sym_info {
	uint64_t value, size;
	unsigned int type;	/* STT_* */
};

/* Checks the ELF header. 0 or -ENOEXEC. */
int elf_check(const uint8_t *img, size_t len);
/* Finds a defined symbol by name in .symtab, then .dynsym. 0, -ENOENT or -ENOEXEC. */
int elf_sym_find(const uint8_t *img, size_t len, const char *name, struct elf_sym_info *out);
/* The NT_GNU_BUILD_ID of the file. 0 with *id pointing into img, -ENOENT or -ENOEXEC. */
int elf_build_id(const uint8_t *img, size_t len, const uint8_t **id, size_t *id_len);
/*
 * Load bias of a file mapped with file offset pgoff at vaddr (page size ps):
 * vaddr - ALIGN_DOWN(p_vaddr) of the PT_LOAD whose page-aligned offset is
 * pgoff. 0, -ENOENT (no such segment) or -ENOEXEC.
 */
int elf_load_bias(const uint8_t *img, size_t len, uint64_t vaddr, uint64_t pgoff, size_t ps,
		  uint64_t *bias);

/*
 * Resolves an expression to an address in m. Reports errors itself
 * (-ENOENT for an unknown name, -EINVAL for bad syntax).
 */
int addr_resolve(const struct img_mem *m, const char *expr, uint64_t *out);

#endif
