// SPDX-License-Identifier: MIT
/* Unit tests of criu-mem/vma.c: maps line parser, VmFlags, kinds, vmflag table. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pagescan.h"
#include "unit.h"
#include "vma.h"

/* Parses line from a buffer that ends at a guard page (no NUL after it). */
static int parse(const char *line, struct vma *v)
{
	size_t len = strlen(line);
	char *p = unit_guard_alloc(len);
	int ret;

	if (!p)
		return -99;
	memcpy(p, line, len);
	ret = vma_parse_line(p, len, v);
	unit_guard_free(p, len);
	return ret;
}

UNIT_TEST(vma_parse_file_private)
{
	struct vma v;

	CHECK_EQ(parse("55d4a2a00000-55d4a2a02000 r-xp 00001000 fd:01 1234567   "
		       "                /usr/bin/cat\n", &v), 0);
	CHECK_EQ(v.start, 0x55d4a2a00000ull);
	CHECK_EQ(v.end, 0x55d4a2a02000ull);
	CHECK_EQ(v.prot, PROT_READ | PROT_EXEC);
	CHECK_EQ(v.flags, MAP_PRIVATE);
	CHECK_EQ(v.pgoff, 0x1000);
	CHECK_EQ(v.dev, makedev(0xfd, 1));
	CHECK_EQ(v.ino, 1234567);
	CHECK_EQ(v.kind, VMA_KIND__VMA_FILE_PRIVATE);
	CHECK(v.path && !strcmp(v.path, "/usr/bin/cat"));
	CHECK_EQ(v.deleted, 0);
	free(v.path);
	return 0;
}

UNIT_TEST(vma_parse_anon_no_path)
{
	struct vma v;

	/* no trailing newline, no padding: the line ends at the guard page */
	CHECK_EQ(parse("7f0000000000-7f0000100000 rw-p 00000000 00:00 0", &v), 0);
	CHECK_EQ(v.kind, VMA_KIND__VMA_ANON_PRIVATE);
	CHECK_EQ(v.flags, MAP_PRIVATE | MAP_ANONYMOUS);
	CHECK(!v.path);
	CHECK_EQ(parse("7f0000000000-7f0000100000 ---p 00000000 00:00 0                 \n", &v),
		 0);
	CHECK_EQ(v.prot, 0);
	CHECK(!v.path);
	return 0;
}

UNIT_TEST(vma_parse_path_with_spaces_and_deleted)
{
	struct vma v;

	CHECK_EQ(parse("7f0000000000-7f0000001000 rw-s 00000000 08:02 42   /tmp/a b  c.dat "
		       "(deleted)\n", &v), 0);
	CHECK(v.path && !strcmp(v.path, "/tmp/a b  c.dat"));
	CHECK_EQ(v.deleted, 1);
	CHECK_EQ(v.kind, VMA_KIND__VMA_FILE_SHARED);
	free(v.path);
	CHECK_EQ(parse("7f0000000000-7f0000001000 r--p 00000000 08:02 42 /x (deleted) y\n", &v),
		 0);
	CHECK(v.path && !strcmp(v.path, "/x (deleted) y"));
	CHECK_EQ(v.deleted, 0);
	free(v.path);
	return 0;
}

UNIT_TEST(vma_parse_special_kinds)
{
	static const struct {
		const char *line;
		VmaKind kind;
	} cases[] = {
		{ "7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]", VMA_KIND__VMA_VDSO },
		{ "7ffd0000-7ffd1000 r--p 00000000 00:00 0 [vvar]", VMA_KIND__VMA_VVAR },
		{ "7ffd0000-7ffd1000 r--p 00000000 00:00 0 [vvar_vclock]", VMA_KIND__VMA_VVAR },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
		  VMA_KIND__VMA_VSYSCALL },
		{ "7ffc0000-7ffc2000 rw-p 00000000 00:00 0 [stack]", VMA_KIND__VMA_STACK },
		{ "5600000-5621000 rw-p 00000000 00:00 0 [heap]", VMA_KIND__VMA_HEAP },
		{ "7f00000-7f01000 rw-s 00000000 00:01 1060 /dev/zero (deleted)",
		  VMA_KIND__VMA_ANON_SHARED },
		{ "7f00000-7f01000 rw-s 00000000 00:01 1061 /memfd:myfd (deleted)",
		  VMA_KIND__VMA_SHMEM },
		{ "7f00000-7f01000 rw-s 00000000 00:17 5 /dev/shm/foo", VMA_KIND__VMA_SHMEM },
		{ "7f00000-7f01000 rw-s 00000000 00:01 32768 /SYSV0000abcd (deleted)",
		  VMA_KIND__VMA_SHMEM },
		{ "7f00000-7f01000 rw-p 00000000 00:00 0 [anon:my buf]",
		  VMA_KIND__VMA_ANON_PRIVATE },
		{ "7f00000-7f01000 rw-s 00000000 00:01 7 [anon_shmem:x]",
		  VMA_KIND__VMA_ANON_SHARED },
		{ "7f00000-7f01000 r-xp 00000000 00:00 0 [uprobes]", VMA_KIND__VMA_UNSUPPORTED },
	};
	struct vma v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].line, &v)) {
			fprintf(stderr, "  cannot parse '%s'\n", cases[i].line);
			return 1;
		}
		if (v.kind != cases[i].kind) {
			fprintf(stderr, "  '%s': kind %d, want %d\n", cases[i].line, v.kind,
				cases[i].kind);
			return 1;
		}
		free(v.path);
	}
	CHECK_EQ(parse("7ffc0000-7ffc2000 rw-p 00000000 00:00 0 [stack]", &v), 0);
	CHECK(v.flags & MAP_GROWSDOWN);
	free(v.path);
	return 0;
}

UNIT_TEST(vma_parse_malformed)
{
	static const char *bad[] = {
		"",
		"7f00-",
		"7f0000001000-7f0000000000 rw-p 00000000 00:00 0",	/* end < start */
		"7f0000000000-7f0000000000 rw-p 00000000 00:00 0",	/* empty */
		"7f0000000001-7f0000001000 rw-p 00000000 00:00 0",	/* unaligned */
		"7f0000000000-7f0000001000 rw-x 00000000 00:00 0",	/* no p/s */
		"7f0000000000-7f0000001000 rwzp 00000000 00:00 0",
		"7f0000000000-7f0000001000 rw-p 00000000 0000 0",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 12x /a",
		"7f0000000000-7f0000001000 rw-p",
		"zz-7f0000001000 rw-p 00000000 00:00 0",
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 99999999999999999999999 /a",
	};
	struct vma v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &v) != -EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			return 1;
		}
	}
	return 0;
}

UNIT_TEST(vma_vmflags_and_classify)
{
	const char *s = " rd wr mr mw me ac sd dd hg xx zzz\n";
	uint64_t f = vma_parse_vmflags(s, strlen(s));
	struct vma v;

	CHECK(f & (1ull << VMF_RD));
	CHECK(f & (1ull << VMF_DD));
	CHECK(f & (1ull << VMF_HG));
	CHECK(!(f & (1ull << VMF_EX)));
	CHECK_EQ(__builtin_popcountll(f), 9);
	CHECK_EQ(parse("7f0000000000-7f0000200000 rw-s 00000000 00:10 5 /anon_hugepage (deleted)",
		       &v), 0);
	v.vm_flags = 1ull << VMF_HT;
	vma_classify(&v);
	CHECK_EQ(v.kind, VMA_KIND__VMA_HUGETLB);
	v.vm_flags = 1ull << VMF_IO | 1ull << VMF_PF;
	vma_classify(&v);
	CHECK_EQ(v.kind, VMA_KIND__VMA_UNSUPPORTED);
	free(v.path);
	return 0;
}

/* [vvar] and [vsyscall] carry VM_IO/PFNMAP: their names win over the flags. */
UNIT_TEST(vma_special_names_before_io_flags)
{
	static const struct { const char *line; VmaKind kind; } t[] = {
		{ "7ffd0000-7ffd4000 r--p 00000000 00:00 0 [vvar]", VMA_KIND__VMA_VVAR },
		{ "7ffd0000-7ffd1000 r--p 00000000 00:00 0 [vvar_vclock]", VMA_KIND__VMA_VVAR },
		{ "7ffd4000-7ffd6000 r-xp 00000000 00:00 0 [vdso]", VMA_KIND__VMA_VDSO },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
		  VMA_KIND__VMA_VSYSCALL },
		{ "7f0000000000-7f0000001000 rw-s 00000000 00:05 9 /dev/mem",
		  VMA_KIND__VMA_UNSUPPORTED },
	};
	struct vma v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_EQ(parse(t[i].line, &v), 0);
		v.vm_flags = 1ull << VMF_IO | 1ull << VMF_PF;
		vma_classify(&v);
		CHECK_EQ(v.kind, t[i].kind);
		free(v.path);
	}
	return 0;
}

UNIT_TEST(vmflag_table_consistent)
{
	size_t i, j;

	CHECK_EQ(vmflag_table_len, VMF_MAX);
	for (i = 0; i < vmflag_table_len; i++) {
		CHECK(vmflag_by_name(vmflag_table[i].name) == &vmflag_table[i]);
		for (j = 0; j < i; j++)
			CHECK(vmflag_table[j].bit != vmflag_table[i].bit);
	}
	CHECK_EQ(vmflag_by_name("dd")->madv, MADV_DONTDUMP);
	CHECK_EQ(vmflag_by_name("dc")->madv, MADV_DONTFORK);
	CHECK_EQ(vmflag_by_name("wf")->madv, MADV_WIPEONFORK);
	CHECK_EQ(vmflag_by_name("hg")->madv, MADV_HUGEPAGE);
	CHECK_EQ(vmflag_by_name("nh")->madv, MADV_NOHUGEPAGE);
	CHECK_EQ(vmflag_by_name("mg")->madv, MADV_MERGEABLE);
	CHECK_EQ(vmflag_by_name("sr")->madv, MADV_SEQUENTIAL);
	CHECK_EQ(vmflag_by_name("rr")->madv, MADV_RANDOM);
	CHECK_EQ(vmflag_by_name("rd")->madv, 0);
	CHECK(!vmflag_by_name("zz"));
	CHECK(!vmflag_by_name("d"));
	CHECK(!vmflag_by_name("ddd"));
	return 0;
}

/* Reads our own VMAs: every smaps mnemonic this kernel prints is known. */
UNIT_TEST(vma_list_self)
{
	struct vma_list l;
	size_t i;
	int stack = 0, vdso = 0, exe_bid = 0;

	vma_list_init(&l);
	CHECK_EQ(vma_list_read(&l, getpid()), 0);
	CHECK(l.nr > 5);
	for (i = 0; i < l.nr; i++) {
		stack |= l.v[i].kind == VMA_KIND__VMA_STACK;
		vdso |= l.v[i].kind == VMA_KIND__VMA_VDSO;
		exe_bid |= l.v[i].build_id_len == 20;
		CHECK(l.v[i].vm_flags & (1ull << VMF_MR) || l.v[i].kind == VMA_KIND__VMA_VSYSCALL);
		if (i)
			CHECK(l.v[i].start >= l.v[i - 1].end);
	}
	CHECK(stack && vdso && exe_bid);
	vma_list_release(&l);
	return 0;
}

/* A forked child maps one region of each kind; vma_list_read() on it must
 * classify each one and report its VmFlags. */
enum { K_SHANON, K_MEMFD, K_DEVSHM, K_SYSV, K_FPRIV, K_FSHARED, K_DELETED, K_DD, K_NONE, K_NR };

static void kinds_child(int wfd, const char *dir)
{
	uint64_t child_regions[K_NR];
	char path[256];
	int fd, id, i;
	char *m;

	child_regions[K_SHANON] = (uintptr_t)mmap(NULL, 8192, PROT_READ | PROT_WRITE,
						  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("unit memfd", 0);
	if (fd < 0 || ftruncate(fd, 8192))
		_exit(1);
	child_regions[K_MEMFD] = (uintptr_t)mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	snprintf(path, sizeof(path), "/dev/shm/cm-unit-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 8192))
		_exit(1);
	unlink(path);
	child_regions[K_DEVSHM] = (uintptr_t)mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	child_regions[K_SYSV] = id < 0 ? 0 : (uintptr_t)shmat(id, NULL, SHM_RDONLY);
	if (id >= 0)
		shmctl(id, IPC_RMID, NULL);
	snprintf(path, sizeof(path), "%s/a file", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 16384))
		_exit(1);
	child_regions[K_FPRIV] = (uintptr_t)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	child_regions[K_FSHARED] = (uintptr_t)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
						   MAP_SHARED, fd, 8192);
	snprintf(path, sizeof(path), "%s/gone (x)", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096))
		_exit(1);
	child_regions[K_DELETED] = (uintptr_t)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	unlink(path);
	m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(m + 4096, 4096, MADV_DONTDUMP);	/* splits out a VMA of its own */
	child_regions[K_DD] = (uintptr_t)m + 4096;
	child_regions[K_NONE] = (uintptr_t)mmap(NULL, 1 << 20, PROT_NONE,
						MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (i = 0; i < K_NR; i++)
		if (child_regions[i] == (uintptr_t)MAP_FAILED)
			child_regions[i] = 0;
	if (write(wfd, child_regions, sizeof(child_regions)) != sizeof(child_regions))
		_exit(1);
	for (;;)
		pause();
}

static const struct vma *find_vma(const struct vma_list *l, uint64_t addr)
{
	size_t i;

	for (i = 0; addr && i < l->nr; i++)
		if (l->v[i].start == addr)
			return &l->v[i];
	return NULL;
}

UNIT_TEST(vma_list_child_kinds)
{
	static const VmaKind want[K_NR] = {
		VMA_KIND__VMA_ANON_SHARED, VMA_KIND__VMA_SHMEM, VMA_KIND__VMA_SHMEM,
		VMA_KIND__VMA_SHMEM, VMA_KIND__VMA_FILE_PRIVATE, VMA_KIND__VMA_FILE_SHARED,
		VMA_KIND__VMA_FILE_PRIVATE, VMA_KIND__VMA_ANON_PRIVATE, VMA_KIND__VMA_ANON_PRIVATE,
	};
	const char *dir = unit_tmpdir();
	uint64_t r[K_NR];
	struct vma_list l;
	const struct vma *v;
	int p[2], i, ret = 1;
	char path[256];
	pid_t pid;

	CHECK(dir && !pipe(p));
	pid = fork();
	if (!pid)
		kinds_child(p[1], dir);
	close(p[1]);
	vma_list_init(&l);
	if (read(p[0], r, sizeof(r)) != sizeof(r) || vma_list_read(&l, pid))
		goto out;
	for (i = 0; i < K_NR; i++) {
		v = find_vma(&l, r[i]);
		if (!v || v->kind != want[i]) {
			fprintf(stderr, "  region %d at %#lx: kind %d, want %d\n", i,
				(unsigned long)r[i], v ? (int)v->kind : -1, want[i]);
			goto out;
		}
	}
	v = find_vma(&l, r[K_MEMFD]);
	if (strcmp(v->path, "/memfd:unit memfd") || !v->deleted)
		goto out;
	v = find_vma(&l, r[K_FSHARED]);
	snprintf(path, sizeof(path), "%s/a file", dir);
	if (strcmp(v->path, path) || v->pgoff != 8192 || v->prot != (PROT_READ | PROT_WRITE) ||
	    !(v->vm_flags & (1ull << VMF_SH)))
		goto out;
	v = find_vma(&l, r[K_DELETED]);
	snprintf(path, sizeof(path), "%s/gone (x)", dir);
	if (strcmp(v->path, path) || !v->deleted)
		goto out;
	if (!(find_vma(&l, r[K_DD])->vm_flags & (1ull << VMF_DD)))
		goto out;
	if (find_vma(&l, r[K_NONE])->prot != 0)
		goto out;
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "  child VMA check failed\n");
	vma_list_release(&l);
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/a file", dir);
	unlink(path);
	rmdir(dir);
	return ret;
}

static int huge_run(void *arg, const struct pscan_run *r)
{
	struct pscan_run *out = arg;

	if (out->nr_pages)
		return -E2BIG;
	*out = *r;
	return 0;
}

/* Both scan modes see one present huge run. */
static int huge_scan(char *m)
{
	enum pscan_mode modes[2] = { PSCAN_IOCTL, PSCAN_PAGEMAP };
	struct pscan_run r;
	struct pscan s;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		CHECK_EQ(pscan_open(&s, getpid(), modes[i]), 0);
		CHECK_EQ(pscan_range(&s, (uintptr_t)m, (uintptr_t)m + (2 << 20), huge_run, &r), 0);
		pscan_close(&s);
		CHECK_EQ(r.vaddr, (uintptr_t)m);
		CHECK_EQ(r.nr_pages, 512);
		CHECK_EQ(r.flags & (PSCAN_PRESENT | PSCAN_HUGE), PSCAN_PRESENT | PSCAN_HUGE);
	}
	return 0;
}

/* hugetlb: only when the machine has a free huge page reserved (no
 * system setting is changed here). */
UNIT_TEST(vma_hugetlb_kind)
{
	struct vma_list l;
	const struct vma *v;
	char *m;

	m = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	if (m == MAP_FAILED) {
		fprintf(stderr, "  no free 2 MiB huge page: skipped\n");
		return 0;
	}
	m[0] = 1;
	vma_list_init(&l);
	CHECK_EQ(vma_list_read(&l, getpid()), 0);
	v = find_vma(&l, (uintptr_t)m);
	CHECK(v);
	CHECK_EQ(v->kind, VMA_KIND__VMA_HUGETLB);
	CHECK_EQ(v->page_shift, 21);
	CHECK(v->vm_flags & (1ull << VMF_HT));
	vma_list_release(&l);
	if (huge_scan(m))
		return 1;
	munmap(m, 2 << 20);
	return 0;
}
