// SPDX-License-Identifier: MIT
/*
 * Unit tests of the inspection helpers: address expressions and ELF symbol
 * lookup (tools/addr.c), hexdump lines (tools/hexdump.c), and the core
 * writer's notes and segment plan (tools/elfcore.c). ELF input sits at the
 * end of a guard-page buffer so that any over-read crashes.
 */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "tools/addr.h"
#include "tools/elfcore.h"
#include "tools/hexdump.h"
#include "unit.h"
#include "vma.h"

UNIT_TEST(addr_parse_u64)
{
	uint64_t v;

	CHECK_EQ(addr_parse_u64("0x10", &v), 0);
	CHECK_EQ(v, 16);
	CHECK_EQ(addr_parse_u64("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(addr_parse_u64("0xffffffffffffffff", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(addr_parse_u64("0x10000000000000000", &v), -ERANGE);
	CHECK_EQ(addr_parse_u64("18446744073709551616", &v), -ERANGE);
	CHECK_EQ(addr_parse_u64("", &v), -EINVAL);
	CHECK_EQ(addr_parse_u64("0x", &v), -EINVAL);
	CHECK_EQ(addr_parse_u64("12a", &v), -EINVAL);
	CHECK_EQ(addr_parse_u64("-1", &v), -EINVAL);
	return 0;
}

UNIT_TEST(addr_expr_forms)
{
	struct addr_expr e;
	char longname[ADDR_NAME_MAX + 8];

	CHECK_EQ(addr_expr_parse("0x7f0000001000", &e), 0);
	CHECK_EQ(e.kind, ADDR_NUM);
	CHECK(e.num == 0x7f0000001000ull);
	CHECK_EQ(addr_expr_parse("[heap]+0x40", &e), 0);
	CHECK_EQ(e.kind, ADDR_NAMED);
	CHECK(!strcmp(e.name, "[heap]"));
	CHECK_EQ(e.num, 0x40);
	CHECK_EQ(addr_expr_parse("main", &e), 0);
	CHECK(!strcmp(e.name, "main") && e.num == 0);
	CHECK_EQ(addr_expr_parse("libc.so.6+4096", &e), 0);
	CHECK(!strcmp(e.name, "libc.so.6") && e.num == 4096);
	CHECK_EQ(addr_expr_parse("a+b", &e), 0);	/* '+' without a number stays in the name */
	CHECK(!strcmp(e.name, "a+b") && e.num == 0);
	CHECK_EQ(addr_expr_parse("main+", &e), -EINVAL);
	CHECK_EQ(addr_expr_parse("+4", &e), -EINVAL);
	CHECK_EQ(addr_expr_parse("12+4", &e), -EINVAL);
	CHECK_EQ(addr_expr_parse("", &e), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(addr_expr_parse(longname, &e), -EINVAL);
	return 0;
}

UNIT_TEST(addr_vma_names)
{
	VmaEntry v = VMA_ENTRY__INIT;

	v.kind = VMA_KIND__VMA_ANON_PRIVATE;
	CHECK(!strcmp(addr_vma_name(&v), "[anon]"));
	v.kind = 99;
	CHECK(!strcmp(addr_vma_name(&v), "[?]"));
	v.path = "/lib/x.so";
	CHECK(!strcmp(addr_vma_name(&v), "/lib/x.so"));
	return 0;
}

/*
 * A minimal ET_DYN ELF: header, PT_LOAD (offset 0, vaddr 0) + PT_LOAD
 * (offset 0x1000, vaddr 0x1000) + PT_NOTE with a build id, and sections
 * null, .symtab, .strtab. Returns its length.
 */
static size_t make_elf(uint8_t *b, size_t cap)
{
	static const char strtab[] = "\0global_counter\0undef_sym\0main";
	static const uint8_t bid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	Elf64_Ehdr *eh = (void *)b;
	Elf64_Phdr *ph = (void *)(b + 64);
	Elf64_Nhdr *nh = (void *)(b + 256);
	Elf64_Sym *sym = (void *)(b + 512);
	Elf64_Shdr *sh = (void *)(b + 1024);

	if (cap < 2048)
		return 0;
	memset(b, 0, 2048);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_DYN;
	eh->e_phoff = 64;
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 3;
	eh->e_shoff = 1024;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 3;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0, .p_filesz = 0x800 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1010, .p_vaddr = 0x2010 };
	ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 256, .p_filesz = 12 + 4 + 8 };
	nh->n_namesz = 4;
	nh->n_descsz = 8;
	nh->n_type = NT_GNU_BUILD_ID;
	memcpy(b + 256 + 12, "GNU", 4);
	memcpy(b + 256 + 16, bid, 8);
	sym[1] = (Elf64_Sym){ .st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
			      .st_shndx = 5, .st_value = 0x4010, .st_size = 8 };
	sym[2] = (Elf64_Sym){ .st_name = 16, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
			      .st_shndx = SHN_UNDEF };
	sym[3] = (Elf64_Sym){ .st_name = 26, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
			      .st_shndx = 5, .st_value = 0x1120 };
	memcpy(b + 896, strtab, sizeof(strtab));
	sh[1] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB, .sh_offset = 512, .sh_size = 4 * sizeof(*sym),
			      .sh_link = 2, .sh_entsize = sizeof(*sym) };
	sh[2] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_offset = 896, .sh_size = sizeof(strtab) };
	return 1024 + 3 * sizeof(*sh);
}

UNIT_TEST(elf_symbols)
{
	uint8_t img[2048];
	size_t len = make_elf(img, sizeof(img));
	uint8_t *g = unit_guard_alloc(len);
	struct elf_sym_info si;
	const uint8_t *id;
	size_t id_len;
	uint64_t bias;

	CHECK(g);
	memcpy(g, img, len);
	CHECK_EQ(elf_check(g, len), 0);
	CHECK_EQ(elf_sym_find(g, len, "global_counter", &si), 0);
	CHECK_EQ(si.value, 0x4010);
	CHECK_EQ(si.type, STT_OBJECT);
	CHECK_EQ(elf_sym_find(g, len, "main", &si), 0);
	CHECK_EQ(si.value, 0x1120);
	CHECK_EQ(elf_sym_find(g, len, "undef_sym", &si), -ENOENT);	/* undefined */
	CHECK_EQ(elf_sym_find(g, len, "global", &si), -ENOENT);		/* prefix only */
	CHECK_EQ(elf_sym_find(g, len, "nope", &si), -ENOENT);
	CHECK_EQ(elf_build_id(g, len, &id, &id_len), 0);
	CHECK_EQ(id_len, 8);
	CHECK(id[0] == 1 && id[7] == 8);
	CHECK_EQ(elf_load_bias(g, len, 0x555500000000ull, 0, 4096, &bias), 0);
	CHECK(bias == 0x555500000000ull);
	CHECK_EQ(elf_load_bias(g, len, 0x555500002000ull, 0x1000, 4096, &bias), 0);
	CHECK(bias == 0x555500000000ull);
	CHECK_EQ(elf_load_bias(g, len, 0x1000, 0x3000, 4096, &bias), -ENOENT);
	unit_guard_free(g, len);
	return 0;
}

/* Every prefix of the file, at the end of a guard page: errors, never over-reads. */
UNIT_TEST(elf_truncated_and_corrupt)
{
	uint8_t img[2048];
	size_t len = make_elf(img, sizeof(img)), n;
	struct elf_sym_info si;
	const uint8_t *id;
	size_t id_len;
	uint64_t bias;

	for (n = 0; n < len; n++) {
		uint8_t *g = unit_guard_alloc(n ? n : 1);

		CHECK(g);
		memcpy(g, img, n);
		(void)elf_sym_find(g, n, "main", &si);
		(void)elf_build_id(g, n, &id, &id_len);
		(void)elf_load_bias(g, n, 0, 0, 4096, &bias);
		unit_guard_free(g, n ? n : 1);
	}
	CHECK_EQ(elf_check(img, 63), -ENOEXEC);
	/* symbol name offset past the string table */
	((Elf64_Sym *)(img + 512))[3].st_name = 0xfffffff0;
	CHECK_EQ(elf_sym_find(img, len, "main", &si), -ENOENT);
	/* string table link out of range */
	((Elf64_Shdr *)(img + 1024))[1].sh_link = 77;
	CHECK_EQ(elf_sym_find(img, len, "main", &si), -ENOEXEC);
	/* note size running past its segment */
	((Elf64_Nhdr *)(img + 256))->n_descsz = 0xffffffff;
	CHECK_EQ(elf_build_id(img, len, &id, &id_len), -ENOEXEC);
	/* section table past the end */
	((Elf64_Ehdr *)img)->e_shoff = ~0ull - 8;
	CHECK_EQ(elf_sym_find(img, len, "main", &si), -ENOEXEC);
	return 0;
}

UNIT_TEST(hexdump_format)
{
	const uint8_t p[] = "Hello, world!\n\x01\xff";
	uint8_t absent[16] = { 0 };
	char line[HEXDUMP_LINE_MAX];

	hexdump_line(line, 0x7f0000001000ull, p, 16, NULL);
	CHECK(!strcmp(line, "7f0000001000: 4865 6c6c 6f2c 2077 6f72 6c64 210a 01ff  "
			    "Hello, world!..."));
	absent[0] = absent[1] = 1;
	hexdump_line(line, 0x10, p, 3, absent);
	CHECK(!strcmp(line, "000000000010: ---- 6c                                    l"));
	hexdump_line(line, 0xffffffffff600000ull, p, 1, NULL);
	CHECK(!strncmp(line, "ffffffffff600000: 48", 20));
	CHECK(strlen(line) < HEXDUMP_LINE_MAX);
	return 0;
}

static ThreadCore *mk_thread(uint32_t tid, size_t gplen)
{
	static uint8_t regs[4096];
	ThreadCore *t = calloc(1, sizeof(*t));

	thread_core__init(t);
	t->tid = tid;
	t->gpregs.data = regs;
	t->gpregs.len = gplen;
	return t;
}

UNIT_TEST(elfcore_notes_checks)
{
	ThreadCore *t[2] = { mk_thread(10, 216), mk_thread(11, 216) };
	struct elfcore_in in = { .pid = 10, .threads = t, .nr_threads = 2, .page_size = 4096 };
	struct elfcore_buf b = { 0 };
	uint8_t fp[512];

	CHECK_EQ(elfcore_notes(&in, &b), 0);
	/* 2 x NT_PRSTATUS (20 + 336) and NT_PRPSINFO (20 + 136) */
	CHECK_EQ(b.len, 2 * (20 + 336) + 20 + 136);
	elfcore_buf_release(&b);
	t[1]->has_fpregs = 1;
	t[1]->fpregs.data = fp;
	t[1]->fpregs.len = 100;
	CHECK_EQ(elfcore_notes(&in, &b), -EBADMSG);
	t[1]->fpregs.len = 512;
	t[0]->gpregs.len = 215;
	CHECK_EQ(elfcore_notes(&in, &b), -EBADMSG);
	t[0]->gpregs.len = 216;
	t[0]->has_xstate = 1;
	t[0]->xstate.data = fp;
	t[0]->xstate.len = (size_t)ELFCORE_MAX_XSTATE + 1;
	CHECK_EQ(elfcore_notes(&in, &b), -EBADMSG);
	t[0]->has_xstate = 0;
	elfcore_buf_release(&b);
	CHECK_EQ(elfcore_notes(&in, &b), 0);
	elfcore_buf_release(&b);
	in.nr_threads = 0;
	CHECK_EQ(elfcore_notes(&in, &b), -EBADMSG);
	free(t[0]);
	free(t[1]);
	return 0;
}

UNIT_TEST(elfcore_plan_layout)
{
	VmaEntry v[4];
	VmaEntry *vp[4] = { &v[0], &v[1], &v[2], &v[3] };
	struct img_run runs[1] = { { .vaddr = 0x21000, .nr_pages = 2, .flags = PE_PRESENT } };
	struct elfcore_in in = { .vmas = vp, .nr_vmas = 4, .runs = runs, .nr_runs = 1,
				 .page_size = 4096 };
	struct elfcore_plan p;
	int i;

	for (i = 0; i < 4; i++) {
		vma_entry__init(&v[i]);
		v[i].prot = PROT_READ | PROT_WRITE;
		v[i].kind = VMA_KIND__VMA_ANON_PRIVATE;
	}
	v[0].start = 0x10000, v[0].end = 0x14000;			/* anon: whole */
	v[1].start = 0x20000, v[1].end = 0x25000;			/* file: 0 / data / 0 */
	v[1].kind = VMA_KIND__VMA_FILE_PRIVATE;
	v[1].path = "/bin/true";
	v[2].start = 0x30000, v[2].end = 0x31000;			/* DONTDUMP */
	v[2].has_vm_flags = 1;
	v[2].vm_flags = 1ull << VMF_DD;
	v[3].start = 0x40000, v[3].end = 0x50000, v[3].prot = PROT_NONE;	/* reserve */
	CHECK_EQ(elfcore_plan_build(&in, 100, &p), 0);
	CHECK_EQ(p.nr, 6);
	CHECK(p.segs[0].filesz == 0x4000 && p.segs[0].offset % 4096 == 0);
	CHECK(p.segs[1].vaddr == 0x20000 && p.segs[1].memsz == 0x1000 && !p.segs[1].filesz);
	CHECK(p.segs[2].vaddr == 0x21000 && p.segs[2].filesz == 0x2000);
	CHECK(p.segs[3].vaddr == 0x23000 && p.segs[3].memsz == 0x2000 && !p.segs[3].filesz);
	CHECK(!p.segs[4].filesz && !p.segs[5].filesz);
	CHECK_EQ(p.data_bytes, 0x6000);
	CHECK(p.file_size == p.segs[2].offset + 0x2000);
	elfcore_plan_release(&p);
	in.all = 1;
	CHECK_EQ(elfcore_plan_build(&in, 100, &p), 0);
	CHECK(p.segs[4].filesz == 0x1000);
	elfcore_plan_release(&p);
	v[2].start = 0x24000;	/* overlaps v[1] */
	CHECK_EQ(elfcore_plan_build(&in, 100, &p), -EBADMSG);
	elfcore_plan_release(&p);
	v[2].start = 0x30800;	/* unaligned */
	CHECK_EQ(elfcore_plan_build(&in, 100, &p), -EBADMSG);
	elfcore_plan_release(&p);
	return 0;
}

/* More than 65534 program headers: e_phnum = PN_XNUM and the count in section 0. */
UNIT_TEST(elfcore_head_pn_xnum)
{
	size_t n = 70000, i;
	VmaEntry *v = calloc(n, sizeof(*v));
	VmaEntry **vp = calloc(n, sizeof(*vp));
	struct elfcore_in in = { .vmas = vp, .nr_vmas = n, .page_size = 4096 };
	struct elfcore_buf notes = { 0 }, head = { 0 };
	struct elfcore_plan p;
	Elf64_Ehdr eh;
	Elf64_Shdr sh;
	uint8_t note[20] = { 5, 0, 0, 0 };

	CHECK(v && vp);
	for (i = 0; i < n; i++) {
		vma_entry__init(&v[i]);
		v[i].start = 0x100000 + 2 * i * 4096;
		v[i].end = v[i].start + 4096;
		v[i].prot = PROT_READ;
		vp[i] = &v[i];
	}
	notes.p = note;
	notes.len = notes.cap = sizeof(note);
	CHECK_EQ(elfcore_plan_build(&in, notes.len, &p), 0);
	CHECK_EQ(elfcore_head(&p, &notes, &head), 0);
	memcpy(&eh, head.p, sizeof(eh));
	CHECK_EQ(eh.e_phnum, PN_XNUM);
	CHECK_EQ(eh.e_shnum, 1);
	CHECK(eh.e_shoff + sizeof(sh) <= head.len);
	memcpy(&sh, head.p + eh.e_shoff, sizeof(sh));
	CHECK_EQ(sh.sh_info, n + 1);
	CHECK_EQ(p.notes_off, eh.e_shoff + sizeof(sh));
	CHECK_EQ(head.len, p.notes_off + sizeof(note));
	elfcore_buf_release(&head);
	elfcore_plan_release(&p);
	free(v);
	free(vp);
	return 0;
}
