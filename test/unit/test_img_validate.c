// SPDX-License-Identifier: MIT
/*
 * test_img_validate.c: the image validator (validate.c) field by field, the
 * terminal-safe string escaper, and the caps img_mem_load() applies: VMA
 * records against the head count, and parent chains that loop or go deeper
 * than IMG_MAX_CHAIN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/user.h>

#include "test_img.h"
#include "unit.h"

static void good_vma(VmaEntry *v)
{
	vma_entry__init(v);
	v->start = 0x400000;
	v->end = 0x402000;
	v->prot = PROT_READ | PROT_WRITE;
	v->flags = MAP_PRIVATE | MAP_ANONYMOUS;
	v->kind = VMA_KIND__VMA_ANON_PRIVATE;
}

/* img_validate_vma() fails on v and names @what in its message. */
static int vma_bad(const VmaEntry *v, const char *what)
{
	char why[256] = "";

	if (img_validate_vma(v, why, sizeof(why)) != -EBADMSG) {
		fprintf(stderr, "  accepted a vma that should fail on '%s'\n", what);
		return 0;
	}
	if (!strstr(why, what)) {
		fprintf(stderr, "  message '%s' does not mention '%s'\n", why, what);
		return 0;
	}
	return 1;
}

UNIT_TEST(img_validate_vma_fields)
{
	GuardRange g = GUARD_RANGE__INIT, *gp = &g;
	char why[256], *longp;
	VmaEntry v;

	good_vma(&v);
	CHECK_EQ(img_validate_vma(&v, why, sizeof(why)), 0);
	v.end = IMG_USER_END;
	CHECK_EQ(img_validate_vma(&v, NULL, 0), 0);
	v.end = IMG_USER_END + 4096;
	CHECK(vma_bad(&v, "outside user space"));
	v.end = 0xfffffffffffff000ull;
	CHECK(vma_bad(&v, "outside user space"));
	good_vma(&v);
	v.end = v.start;
	CHECK(vma_bad(&v, "empty"));
	v.end = v.start + 100;
	CHECK(vma_bad(&v, "unaligned"));

	good_vma(&v);		/* [vsyscall]: only there, only of its kind */
	v.start = IMG_VSYSCALL_START;
	v.end = IMG_VSYSCALL_END;
	v.prot = PROT_EXEC;
	v.kind = VMA_KIND__VMA_VSYSCALL;
	CHECK_EQ(img_validate_vma(&v, why, sizeof(why)), 0);
	v.kind = VMA_KIND__VMA_ANON_PRIVATE;
	CHECK(vma_bad(&v, "outside user space"));
	v.kind = VMA_KIND__VMA_VSYSCALL;
	v.start -= 4096;
	CHECK(vma_bad(&v, "outside user space"));

	good_vma(&v);
	v.kind = 99;
	CHECK(vma_bad(&v, "kind 99"));
	good_vma(&v);
	v.prot = 0xfff;
	CHECK(vma_bad(&v, "prot"));
	good_vma(&v);
	v.flags = 0xffffffffu;
	CHECK(vma_bad(&v, "flags"));
	v.flags = MAP_ANONYMOUS;	/* neither shared nor private */
	CHECK(vma_bad(&v, "flags"));
	v.flags = MAP_SHARED | MAP_PRIVATE;
	CHECK(vma_bad(&v, "flags"));

	good_vma(&v);
	v.has_page_shift = 1;
	v.page_shift = 12;
	CHECK_EQ(img_validate_vma(&v, why, sizeof(why)), 0);
	v.page_shift = 63;
	CHECK(vma_bad(&v, "page shift 63"));
	v.page_shift = 21;	/* 0x400000-0x402000 is not 2 MiB aligned */
	CHECK(vma_bad(&v, "21-bit"));

	good_vma(&v);
	longp = malloc(IMG_MAX_PATH + 1);
	CHECK(longp);
	memset(longp, 'p', IMG_MAX_PATH);
	longp[0] = '/';
	longp[IMG_MAX_PATH - 1] = 0;	/* 4095 bytes: fits PATH_MAX */
	v.path = longp;
	CHECK_EQ(img_validate_vma(&v, why, sizeof(why)), 0);
	longp[IMG_MAX_PATH - 1] = 'p';
	longp[IMG_MAX_PATH] = 0;
	CHECK(vma_bad(&v, "path"));
	free(longp);

	good_vma(&v);
	v.n_guards = 1;
	v.guards = &gp;
	g.start = v.start + 4096;
	g.nr_pages = 1;
	CHECK_EQ(img_validate_vma(&v, why, sizeof(why)), 0);
	g.nr_pages = 2;
	CHECK(vma_bad(&v, "guard 0"));
	g.nr_pages = 1ull << 60;	/* bytes overflow */
	CHECK(vma_bad(&v, "guard 0"));
	g.start = v.start - 4096;
	g.nr_pages = 1;
	CHECK(vma_bad(&v, "guard 0"));
	g.start = v.start;
	g.nr_pages = 0;
	CHECK(vma_bad(&v, "guard 0"));
	return 0;
}

struct probs {
	int n;
	char last[512];
};

static void on_prob(void *arg, const char *msg)
{
	struct probs *p = arg;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", msg);
}

UNIT_TEST(img_validate_vmas_reports_every_problem)
{
	VmaEntry a, b, c, d, *list[4] = { &a, &b, &c, &d };
	struct probs p = { 0 };

	good_vma(&a);
	good_vma(&b);
	b.start = 0x402000;
	b.end = 0x404000;
	good_vma(&c);
	c.start = 0x403000;	/* overlaps b */
	c.end = 0x405000;
	good_vma(&d);
	d.start = 0x500000;
	d.end = 0x501000;
	CHECK_EQ(img_validate_vmas(list, 2, on_prob, &p), 0);
	CHECK_EQ(p.n, 0);
	a.prot = 0x100;
	d.kind = 42;
	CHECK_EQ(img_validate_vmas(list, 4, on_prob, &p), 3);
	CHECK_EQ(p.n, 3);
	CHECK(strstr(p.last, "kind 42") && strstr(p.last, "vma 3"));
	/* Without a callback: the first problem, in img_strerror(). */
	CHECK_EQ(img_validate_vmas(list, 4, NULL, NULL), 1);
	CHECK(strstr(img_strerror(), "prot"));
	return 0;
}

UNIT_TEST(img_validate_mm_head)
{
	uint64_t auxv[IMG_MAX_AUXV + 2] = { 0 };
	MmEntry mm = MM_ENTRY__INIT;
	struct probs p = { 0 };
	char *longp;

	mm.n_auxv = 4;
	mm.auxv = auxv;
	mm.has_arg_start = mm.has_arg_end = 1;
	mm.arg_start = 0x7ffc0000;
	mm.arg_end = 0x7ffc0100;
	CHECK_EQ(img_validate_mm(&mm, on_prob, &p), 0);
	mm.n_auxv = 3;
	CHECK_EQ(img_validate_mm(&mm, NULL, NULL), 1);
	CHECK(strstr(img_strerror(), "auxv"));
	mm.n_auxv = IMG_MAX_AUXV + 2;
	CHECK_EQ(img_validate_mm(&mm, NULL, NULL), 1);
	mm.n_auxv = IMG_MAX_AUXV;
	CHECK_EQ(img_validate_mm(&mm, NULL, NULL), 0);
	mm.arg_end = 0x1000;	/* inverted */
	mm.has_brk = mm.has_start_brk = 1;
	mm.start_brk = 0xffffffffffff0000ull;	/* outside user space */
	mm.brk = 0xffffffffffff1000ull;
	CHECK_EQ(img_validate_mm(&mm, on_prob, &p), 2);
	CHECK(strstr(p.last, "arg bounds"));
	mm.arg_end = mm.arg_start;
	mm.start_brk = mm.brk = 0x600000;
	mm.nr_vmas = IMG_MAX_VMAS + 1;
	CHECK_EQ(img_validate_mm(&mm, NULL, NULL), 1);
	mm.nr_vmas = 3;
	longp = malloc(IMG_MAX_PATH + 1);
	CHECK(longp);
	memset(longp, 'e', IMG_MAX_PATH);
	longp[IMG_MAX_PATH] = 0;
	mm.exe_path = longp;
	CHECK_EQ(img_validate_mm(&mm, NULL, NULL), 1);
	CHECK(strstr(img_strerror(), "exe path"));
	free(longp);
	return 0;
}

UNIT_TEST(img_validate_thread_and_task)
{
	static uint8_t regs[sizeof(struct user_regs_struct) + 1], fp[513], xs[(64 << 10) + 1];
	SigactionEntry sa = SIGACTION_ENTRY__INIT, *sap = &sa;
	ThreadCore t = THREAD_CORE__INIT, *tl[1] = { &t };
	TaskCore tc = TASK_CORE__INIT;
	struct probs p = { 0 };
	char why[256];

	t.tid = 100;
	t.gpregs.data = regs;
	t.gpregs.len = sizeof(struct user_regs_struct);
	t.has_fpregs = 1;
	t.fpregs.data = fp;
	t.fpregs.len = 512;
	t.has_xstate = 1;
	t.xstate.data = xs;
	t.xstate.len = 64 << 10;
	t.has_rseq_addr = t.has_rseq_len = 1;
	t.rseq_addr = 0x7f0000001000ull;
	t.rseq_len = 32;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), 0);
	t.tid = 0;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), -EBADMSG);
	t.tid = 100;
	t.gpregs.len = 3;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), -EBADMSG);
	CHECK(strstr(why, "gpregs of 3 bytes"));
	t.gpregs.len = sizeof(struct user_regs_struct);
	t.fpregs.len = 17;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), -EBADMSG);
	t.fpregs.len = 512;
	t.xstate.len = (64 << 10) + 1;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), -EBADMSG);
	CHECK(strstr(why, "xstate"));
	t.xstate.len = 64 << 10;
	t.rseq_addr = 0xfffffffffffffff0ull;
	CHECK_EQ(img_validate_thread(&t, why, sizeof(why)), -EBADMSG);
	CHECK(strstr(why, "rseq"));
	t.rseq_addr = 0x7f0000001000ull;

	tc.pid = 100;
	tc.n_sigactions = 1;
	tc.sigactions = &sap;
	sa.sig = 64;
	CHECK_EQ(img_validate_task(&tc, why, sizeof(why)), 0);
	sa.sig = 100000;
	CHECK_EQ(img_validate_task(&tc, why, sizeof(why)), -EBADMSG);
	CHECK(strstr(why, "signal 100000"));
	t.tid = 0;
	CHECK_EQ(img_validate_core(&tc, tl, 1, on_prob, &p), 2);
	CHECK(strstr(p.last, "thread id 0"));
	return 0;
}

UNIT_TEST(img_str_safe_escapes_and_caps)
{
	char buf[64], small[16], *big;

	CHECK(!strcmp(img_str_safe("/usr/lib/libc.so.6", buf, sizeof(buf)), "/usr/lib/libc.so.6"));
	CHECK(!strcmp(img_str_safe("a\033]0;x\007b", buf, sizeof(buf)), "a\\x1b]0;x\\x07b"));
	CHECK(!strcmp(img_str_safe("\x9b" "31m", buf, sizeof(buf)), "\\x9b31m"));
	CHECK(!strcmp(img_str_safe("\xc2\x9b", buf, sizeof(buf)), "\\xc2\\x9b"));	/* UTF-8 C1 */
	CHECK(!strcmp(img_str_safe("caf\xc3\xa9", buf, sizeof(buf)), "caf\xc3\xa9"));
	CHECK(!strcmp(img_str_safe("\xe2\x82", buf, sizeof(buf)), "\\xe2\\x82"));	/* cut */
	CHECK(!strcmp(img_str_safe("a\\b\x7f", buf, sizeof(buf)), "a\\\\b\\x7f"));
	CHECK(!strcmp(img_str_safe(NULL, buf, sizeof(buf)), ""));
	img_str_safe("0123456789abcdefghij", small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
	CHECK(!strcmp(small + strlen(small) - 3, "..."));
	big = malloc(1 << 20);
	CHECK(big);
	memset(big, '\033', (1 << 20) - 1);
	big[(1 << 20) - 1] = 0;
	img_str_safe(big, buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf) && !strchr(buf, '\033'));
	free(big);
	return 0;
}

/* A minimal image: mm with @nr_recs VMAs (head counts @head_nr), no pages. */
struct mini {
	unsigned int pid;
	uint32_t head_nr;
	size_t nr_recs;
	uint8_t id, parent_id;
	const char *parent_path;	/* NULL: no parent */
};

static int mini_write(const char *path, const struct mini *mi)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	MmEntry mm = MM_ENTRY__INIT;
	struct pstore_opts o = { .threads = 1 };
	uint8_t id[16], pid_[16];
	struct pstore_writer *pw;
	struct img_writer *w;
	struct img_dir *d;
	char name[64];
	VmaEntry v;
	size_t i;
	int ret;

	ret = img_dir_create(path, IMG_DIR_NOFSYNC, &d);
	if (ret)
		return ret;
	img_kind_filename(IMG_MM, mi->pid, name, sizeof(name));
	ret = img_writer_open(d, IMG_MM, name, &w);
	mm.pid = mi->pid;
	mm.nr_vmas = mi->head_nr;
	if (!ret)
		ret = img_writer_put(w, &mm.base);
	good_vma(&v);
	for (i = 0; !ret && i < mi->nr_recs; i++) {
		v.start = 0x400000 + i * 0x2000;
		v.end = v.start + 0x1000;
		ret = img_writer_put(w, &v.base);
	}
	if (!ret)
		ret = img_writer_close(w);
	if (!ret)
		ret = pstore_writer_open(d, mi->pid, &o, &pw);
	if (!ret)
		ret = pstore_writer_close(pw, NULL);
	memset(id, mi->id, sizeof(id));
	memset(pid_, mi->parent_id, sizeof(pid_));
	inv.tool_version = inv.kernel_release = inv.arch = "t";
	inv.page_size = 4096;
	inv.root_pid = mi->pid;
	inv.image_id.data = id;
	inv.image_id.len = 16;
	if (mi->parent_path) {
		inv.has_parent_id = 1;
		inv.parent_id.data = pid_;
		inv.parent_id.len = 16;
		inv.parent_path = (char *)mi->parent_path;
	}
	if (!ret)
		ret = img_dir_commit(d, &inv);
	img_dir_free(d);
	return ret;
}

static int mini_load(const char *path, unsigned int pid)
{
	struct img_dir *d;
	struct img_mem *m = NULL;
	int ret;

	ret = img_dir_open(path, &d);
	if (!ret)
		ret = img_mem_load(d, pid, &m);
	img_mem_free(m);
	img_dir_free(d);
	return ret;
}

UNIT_TEST(img_mem_load_caps_vma_records)
{
	struct mini mi = { .pid = 7, .head_nr = 3, .nr_recs = 3, .id = 1 };
	char path[128];

	snprintf(path, sizeof(path), "%s/ok", unit_tmpdir());
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 7), 0);
	mi.nr_recs = 4;		/* one record more than the head counts: stop there */
	snprintf(path, sizeof(path), "%s/more", unit_tmpdir());
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 7), -EOVERFLOW);
	CHECK(strstr(img_strerror(), "'mm-7.img'") && strstr(img_strerror(), "more than 3"));
	mi.nr_recs = 2;		/* fewer: corrupt, not an overflow */
	snprintf(path, sizeof(path), "%s/fewer", unit_tmpdir());
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 7), -EBADMSG);
	mi.head_nr = IMG_MAX_VMAS + 1;
	snprintf(path, sizeof(path), "%s/head", unit_tmpdir());
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 7), -EOVERFLOW);
	CHECK(strstr(img_strerror(), "'mm-7.img'") && strstr(img_strerror(), "head counts"));
	*strrchr(path, '/') = 0;
	timg_rmrf(path);
	return 0;
}

UNIT_TEST(img_mem_load_refuses_parent_loops)
{
	struct mini mi = { .pid = 9, .head_nr = 1, .nr_recs = 1, .id = 5, .parent_id = 5,
			   .parent_path = "." };
	char path[128], base[96];
	int i;

	snprintf(base, sizeof(base), "%s", unit_tmpdir());
	snprintf(path, sizeof(path), "%s/self", base);
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 9), -ELOOP);
	CHECK(strstr(img_strerror(), "loops"));
	/* a -> b -> a */
	mi.id = 1, mi.parent_id = 2, mi.parent_path = "../b";
	snprintf(path, sizeof(path), "%s/a", base);
	CHECK(!mini_write(path, &mi));
	mi.id = 2, mi.parent_id = 1, mi.parent_path = "../a";
	snprintf(path, sizeof(path), "%s/b", base);
	CHECK(!mini_write(path, &mi));
	CHECK_EQ(mini_load(path, 9), -ELOOP);
	/* A chain of IMG_MAX_CHAIN parents loads; one more does not. */
	for (i = 0; i <= IMG_MAX_CHAIN + 1; i++) {
		char pp[32];

		snprintf(pp, sizeof(pp), "../c%d", i - 1);
		mi.id = 10 + i, mi.parent_id = 9 + i, mi.parent_path = i ? pp : NULL;
		snprintf(path, sizeof(path), "%s/c%d", base, i);
		CHECK(!mini_write(path, &mi));
	}
	snprintf(path, sizeof(path), "%s/c%d", base, IMG_MAX_CHAIN);
	CHECK_EQ(mini_load(path, 9), 0);
	snprintf(path, sizeof(path), "%s/c%d", base, IMG_MAX_CHAIN + 1);
	CHECK_EQ(mini_load(path, 9), -ELOOP);
	CHECK(strstr(img_strerror(), "longer than"));
	timg_rmrf(base);
	return 0;
}
