// SPDX-License-Identifier: MIT
/*
 * core.c: libFuzzer target for the input paths of the inspection commands
 * that take bytes from an image or from mapped files: the core writer's
 * note builder and segment plan (hostile ThreadCore / MmEntry / VmaEntry
 * records and runs), the ELF symbol parser and the address expression
 * parser.
 *
 * An image directory is several files, so the input is not one: it is a
 * serialized set of records, each [u8 tag][u16 LE length][bytes]:
 *   0 mm_entry (protobuf)     1 vma_entry (protobuf)   2 thread_core (protobuf)
 *   3 run {u64 vaddr, u32 nr_pages, u8 flags}            4 an ELF file
 *   5 an address expression   6 a symbol name, looked up in the last ELF
 * Runs are sorted and overlaps dropped first, as img_mem_load() guarantees.
 * VMAs are passed as given: the plan must reject what img_mem_load() would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "log.h"
#include "tools/addr.h"
#include "tools/elfcore.h"

#define FZ_MAX_VMAS	1024
#define FZ_MAX_THREADS	64
#define FZ_MAX_RUNS	1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	MmEntry *mm;
	VmaEntry *vmas[FZ_MAX_VMAS];
	ThreadCore *threads[FZ_MAX_THREADS];
	struct img_run runs[FZ_MAX_RUNS];
	size_t nr_vmas, nr_threads, nr_runs;
	const uint8_t *elf;
	size_t elf_len;
};

static int run_cmp(const void *a, const void *b)
{
	const struct img_run *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static void fz_text(const uint8_t *p, size_t n, int tag, const struct fz *f)
{
	struct elf_sym_info si;
	struct addr_expr e;
	char *s = malloc(n + 1);

	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = 0;
	if (tag == 5)
		(void)addr_expr_parse(s, &e);
	else if (f->elf)
		(void)elf_sym_find(f->elf, f->elf_len, s, &si);
	free(s);
}

static void fz_elf(struct fz *f, const uint8_t *p, size_t n)
{
	struct elf_sym_info si;
	const uint8_t *id;
	size_t id_len;
	uint64_t bias;

	f->elf = p;
	f->elf_len = n;
	(void)elf_check(p, n);
	(void)elf_sym_find(p, n, "main", &si);
	(void)elf_build_id(p, n, &id, &id_len);
	(void)elf_load_bias(p, n, 0x555555554000ull, 0, 4096, &bias);
	(void)elf_load_bias(p, n, 0x7f0000001000ull, 0x1000, 4096, &bias);
}

static void fz_record(struct fz *f, int tag, const uint8_t *p, size_t n)
{
	switch (tag) {
	case 0:
		if (f->mm)
			mm_entry__free_unpacked(f->mm, NULL);
		f->mm = mm_entry__unpack(NULL, n, p);
		break;
	case 1:
		if (f->nr_vmas < FZ_MAX_VMAS && (f->vmas[f->nr_vmas] = vma_entry__unpack(NULL, n, p)))
			f->nr_vmas++;
		break;
	case 2:
		if (f->nr_threads < FZ_MAX_THREADS &&
		    (f->threads[f->nr_threads] = thread_core__unpack(NULL, n, p)))
			f->nr_threads++;
		break;
	case 3:
		if (n >= 13 && f->nr_runs < FZ_MAX_RUNS) {
			struct img_run *r = &f->runs[f->nr_runs++];
			uint32_t np;

			memcpy(&r->vaddr, p, 8);
			memcpy(&np, p + 8, 4);
			r->vaddr &= ~4095ull;
			r->nr_pages = np % 4096 + 1;
			r->flags = 1u << (p[12] % 4);
		}
		break;
	case 4:
		fz_elf(f, p, n);
		break;
	default:
		fz_text(p, n, tag, f);
		break;
	}
}

/* Sorts runs and drops overlapping or wrapping ones. */
static void fz_fix_runs(struct fz *f)
{
	size_t i, k = 0;
	uint64_t end = 0;

	qsort(f->runs, f->nr_runs, sizeof(f->runs[0]), run_cmp);
	for (i = 0; i < f->nr_runs; i++) {
		uint64_t e = f->runs[i].vaddr + f->runs[i].nr_pages * 4096;

		if (e <= f->runs[i].vaddr || (k && f->runs[i].vaddr < end))
			continue;
		f->runs[k++] = f->runs[i];
		end = e;
	}
	f->nr_runs = k;
}

static void fz_core(struct fz *f)
{
	struct elfcore_in in = {
		.pid = 1, .comm = "fuzz", .mm = f->mm, .vmas = f->vmas, .nr_vmas = f->nr_vmas,
		.threads = f->threads, .nr_threads = f->nr_threads, .runs = f->runs,
		.nr_runs = f->nr_runs, .page_size = 4096, .vdso_fill = f->nr_runs & 1,
		.all = f->nr_vmas & 1,
	};
	struct elfcore_buf notes = { 0 }, head = { 0 };
	struct elfcore_plan plan = { 0 };

	if (!elfcore_notes(&in, &notes) && !elfcore_plan_build(&in, notes.len, &plan))
		(void)elfcore_head(&plan, &notes, &head);
	elfcore_plan_release(&plan);
	elfcore_buf_release(&notes);
	elfcore_buf_release(&head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = calloc(1, sizeof(*f));
	size_t off = 0, i, n;

	if (!f)
		return 0;
	log_set_level(LOG_ERR);
	while (off + 3 <= size) {
		int tag = data[off] % 7;

		n = data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		n = n > size - off ? size - off : n;
		fz_record(f, tag, data + off, n);
		off += n;
	}
	fz_fix_runs(f);
	fz_core(f);
	if (f->mm)
		mm_entry__free_unpacked(f->mm, NULL);
	for (i = 0; i < f->nr_vmas; i++)
		vma_entry__free_unpacked(f->vmas[i], NULL);
	for (i = 0; i < f->nr_threads; i++)
		thread_core__free_unpacked(f->threads[i], NULL);
	free(f);
	return 0;
}
