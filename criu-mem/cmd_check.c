// SPDX-License-Identifier: MIT
/*
 * cmd_check.c: "criu-mem check [--json]": probes which kernel features this
 * machine offers and reports the path each capability of the dumper uses.
 * Every probe acts on criu-mem itself; nothing else is touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#define LOG_PREFIX "check: "
#include "cli.h"
#include "json.h"
#include "kapi.h"
#include "log.h"
#include "pagescan.h"
#include "util.h"

#define CAP_SYS_PTRACE_BIT		19
#define CAP_SYS_ADMIN_BIT		21
#define CAP_SYS_RESOURCE_BIT		24
#define CAP_CHECKPOINT_RESTORE_BIT	40
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW		_IO(0xAA, 0x00)
#endif

struct check {
	int pagemap_scan, scan_guard, procmap_query, uffd_wp_async, soft_dirty;
	int cg2_freeze, cg1_freezer, pidfd_open, pidfd_getfd, process_madvise;
	int process_vm_readv, clone3_set_tid, guard_regions;
	int cap_ckpt, cap_ptrace, cap_admin, cap_resource;
	char uffd_via[32], thp[32], thp_defrag[32], kernel[160];
	char cg2_mount[256], cg1_mount[256];
	long pipe_max;
};

static int probe_procmap_query(void)
{
	struct procmap_query q;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = (uint64_t)(uintptr_t)&probe_procmap_query;
	ok = ioctl(fd, PROCMAP_QUERY, &q) == 0 && q.vma_start <= q.query_addr;
	close(fd);
	return ok;
}

static int uffd_api_async(int fd)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };

	return !ioctl(fd, UFFDIO_API, &api) && (api.features & UFFD_FEATURE_WP_ASYNC);
}

static void probe_uffd(struct check *c)
{
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY), dev;

	if (fd >= 0) {
		c->uffd_wp_async = uffd_api_async(fd);
		snprintf(c->uffd_via, sizeof(c->uffd_via), "userfaultfd(2)");
		close(fd);
		return;
	}
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		c->uffd_wp_async = uffd_api_async(fd);
		snprintf(c->uffd_via, sizeof(c->uffd_via), "/dev/userfaultfd");
		close(fd);
	}
	close(dev);
}

/* clear_refs 4 then a write: pagemap bit 55 set when soft-dirty exists. */
static int probe_soft_dirty(void)
{
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int cr, pm, ok = 0;
	uint64_t e;

	if (p == MAP_FAILED)
		return 0;
	p[0] = 1;
	cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (cr >= 0 && pm >= 0 && write(cr, "4", 1) == 1) {
		p[0] = 2;
		if (pread(pm, &e, 8, (off_t)((uintptr_t)p / 4096) * 8) == 8)
			ok = !!(e & PM_SOFT_DIRTY);
	}
	close_safe(&cr);
	close_safe(&pm);
	munmap((void *)p, 4096);
	return ok;
}

static void probe_cgroups(struct check *c)
{
	char *m = NULL, *line, *save = NULL, dev[64], dir[256], type[32], opts[512];
	char path[600];
	struct stat st;

	if (read_file_str("/proc/mounts", &m, NULL, 1 << 20))
		return;
	for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %255s %31s %511s", dev, dir, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup2") && !c->cg2_mount[0])
			snprintf(c->cg2_mount, sizeof(c->cg2_mount), "%s", dir);
		if (!strcmp(type, "cgroup") && strstr(opts, "freezer") && !c->cg1_mount[0]) {
			snprintf(c->cg1_mount, sizeof(c->cg1_mount), "%s", dir);
			snprintf(path, sizeof(path), "%s/freezer.state", dir);
			c->cg1_freezer = 1;
		}
	}
	free(m);
	if (c->cg2_mount[0]) {
		/* cgroup.freeze exists in every non-root cgroup: make a probe one */
		snprintf(path, sizeof(path), "%s/criu-mem-check-%d", c->cg2_mount, getpid());
		if (!mkdir(path, 0700)) {
			char f[700];

			snprintf(f, sizeof(f), "%s/cgroup.freeze", path);
			c->cg2_freeze = !stat(f, &st);
			rmdir(path);
		}
	}
}

static void probe_pidfd(struct check *c)
{
	struct iovec iov;
	char buf[8] = "x", out[8];
	struct iovec l = { out, 1 }, r = { buf, 1 };
	int pfd = syscall(__NR_pidfd_open, getpid(), 0), fd;

	c->process_vm_readv = process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1 && out[0] == 'x';
	if (pfd < 0)
		return;
	c->pidfd_open = 1;
	fd = syscall(__NR_pidfd_getfd, pfd, pfd, 0);
	if (fd >= 0) {
		c->pidfd_getfd = 1;
		close(fd);
	}
	iov.iov_base = buf;
	iov.iov_len = 0;
	c->process_madvise = syscall(__NR_process_madvise, pfd, &iov, 1, MADV_COLD, 0) >= 0 ||
			     errno != ENOSYS;
	close(pfd);
}

/* clone3 with set_tid = our own (busy) pid: EEXIST proves support without
 * ever creating a child. */
static int probe_clone3_set_tid(void)
{
	pid_t tid = getpid();
	struct clone_args a;
	long r;

	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	a.set_tid = (uint64_t)(uintptr_t)&tid;
	a.set_tid_size = 1;
	r = syscall(__NR_clone3, &a, sizeof(a));
	if (r == 0)
		_exit(0);	/* cannot happen: the pid is in use */
	if (r > 0)
		return 1;
	return errno == EEXIST;
}

static void probe_misc(struct check *c)
{
	char *s = NULL, *p, *q;
	unsigned long long cap = 0;
	struct utsname u;
	void *m;

	if (!uname(&u))
		snprintf(c->kernel, sizeof(c->kernel), "%s %s", u.release, u.machine);
	if (!read_file_str("/proc/self/status", &s, NULL, 1 << 16)) {
		p = strstr(s, "\nCapEff:");
		if (p)
			cap = strtoull(p + 8, NULL, 16);
		free(s);
	}
	c->cap_ckpt = !!(cap & (1ull << CAP_CHECKPOINT_RESTORE_BIT));
	c->cap_ptrace = !!(cap & (1ull << CAP_SYS_PTRACE_BIT));
	c->cap_admin = !!(cap & (1ull << CAP_SYS_ADMIN_BIT));
	c->cap_resource = !!(cap & (1ull << CAP_SYS_RESOURCE_BIT));
	if (!read_file_str("/proc/sys/fs/pipe-max-size", &s, NULL, 64)) {
		c->pipe_max = atol(s);
		free(s);
	}
	snprintf(c->thp, sizeof(c->thp), "unknown");
	snprintf(c->thp_defrag, sizeof(c->thp_defrag), "unknown");
	if (!read_file_str("/sys/kernel/mm/transparent_hugepage/enabled", &s, NULL, 256)) {
		p = strchr(s, '[');
		q = p ? strchr(p, ']') : NULL;
		if (p && q)
			snprintf(c->thp, sizeof(c->thp), "%.*s", (int)(q - p - 1), p + 1);
		free(s);
	}
	if (!read_file_str("/sys/kernel/mm/transparent_hugepage/defrag", &s, NULL, 256)) {
		p = strchr(s, '[');
		q = p ? strchr(p, ']') : NULL;
		if (p && q)
			snprintf(c->thp_defrag, sizeof(c->thp_defrag), "%.*s", (int)(q - p - 1),
				 p + 1);
		free(s);
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		c->guard_regions = !madvise(m, 4096, MADV_GUARD_INSTALL);
		munmap(m, 4096);
	}
}

static void check_run(struct check *c)
{
	struct pscan s;

	memset(c, 0, sizeof(*c));
	c->pagemap_scan = pscan_have_ioctl();
	if (c->pagemap_scan && !pscan_open(&s, getpid(), PSCAN_IOCTL)) {
		c->scan_guard = !!(s.cats & PAGE_IS_GUARD);
		pscan_close(&s);
	}
	c->procmap_query = probe_procmap_query();
	probe_uffd(c);
	c->soft_dirty = probe_soft_dirty();
	probe_cgroups(c);
	probe_pidfd(c);
	c->clone3_set_tid = probe_clone3_set_tid();
	probe_misc(c);
}

struct feature {
	const char *key, *what;
	size_t off;
};

#define F(k, w) { #k, w, offsetof(struct check, k) }
static const struct feature features[] = {
	F(pagemap_scan, "PAGEMAP_SCAN ioctl on /proc/PID/pagemap"),
	F(scan_guard, "PAGEMAP_SCAN reports guard regions (PAGE_IS_GUARD)"),
	F(procmap_query, "PROCMAP_QUERY ioctl on /proc/PID/maps"),
	F(uffd_wp_async, "userfaultfd async write-protect (WP_ASYNC)"),
	F(soft_dirty, "soft-dirty pagemap bit (clear_refs 4)"),
	F(cg2_freeze, "cgroup v2 freezer (cgroup.freeze)"),
	F(cg1_freezer, "cgroup v1 freezer (freezer.state)"),
	F(pidfd_open, "pidfd_open"),
	F(pidfd_getfd, "pidfd_getfd"),
	F(process_madvise, "process_madvise"),
	F(process_vm_readv, "process_vm_readv"),
	F(clone3_set_tid, "clone3 with set_tid"),
	F(guard_regions, "MADV_GUARD_INSTALL"),
	F(cap_ckpt, "CAP_CHECKPOINT_RESTORE"),
	F(cap_ptrace, "CAP_SYS_PTRACE"),
	F(cap_admin, "CAP_SYS_ADMIN"),
	F(cap_resource, "CAP_SYS_RESOURCE (pipes above pipe-max-size)"),
};
#undef F

static int feat(const struct check *c, const struct feature *f)
{
	return *(const int *)((const char *)c + f->off);
}

static void paths(const struct check *c, const char *out[5][2])
{
	out[0][0] = "page_scan";
	out[0][1] = c->pagemap_scan ? "PAGEMAP_SCAN ioctl" : "/proc/PID/pagemap read";
	out[1][0] = "vma_enum";
	out[1][1] = c->procmap_query ? "smaps text + PROCMAP_QUERY build ids" : "smaps text";
	/*
	 * Incremental dumps (--prev-images-dir) compare page contents with the
	 * parent image today; kernel dirty tracking is what pre-copy rounds
	 * will use, so report whether it would be available.
	 */
	out[2][0] = "incremental";
	out[2][1] = c->uffd_wp_async ? "content compare with the parent (uffd-wp async "
				       "dirty tracking available, not used yet)" :
		    c->soft_dirty ? "content compare with the parent (soft-dirty available, "
				    "not used yet)" :
				    "content compare with the parent (no dirty tracking)";
	out[3][0] = "freeze";
	out[3][1] = c->cg2_freeze ? "ptrace seize (+ cgroup v2 with --freeze-cgroup)" :
		    c->cg1_freezer ? "ptrace seize (+ cgroup v1 with --freeze-cgroup)" :
				     "ptrace seize";
	out[4][0] = "fd_takeover";
	out[4][1] = c->pidfd_getfd ? "pidfd_getfd" : "unavailable (vmsplice backend off)";
}

static void print_json(const struct check *c, const char *p[5][2])
{
	struct json_out j;
	size_t i;

	json_init(&j, stdout, 1);
	json_obj_begin(&j, NULL);
	json_str(&j, "kernel", c->kernel);
	json_obj_begin(&j, "features");
	for (i = 0; i < ARRAY_SIZE(features); i++)
		json_bool(&j, features[i].key, feat(c, &features[i]));
	json_obj_end(&j);
	json_obj_begin(&j, "paths");
	for (i = 0; i < 5; i++)
		json_str(&j, p[i][0], p[i][1]);
	json_obj_end(&j);
	json_str(&j, "uffd_via", c->uffd_via[0] ? c->uffd_via : NULL);
	json_str(&j, "cgroup2_mount", c->cg2_mount[0] ? c->cg2_mount : NULL);
	json_str(&j, "freezer_v1_mount", c->cg1_mount[0] ? c->cg1_mount : NULL);
	json_i64(&j, "pipe_max_size", c->pipe_max);
	json_str(&j, "thp", c->thp);
	json_str(&j, "thp_defrag", c->thp_defrag);
	json_obj_end(&j);
	json_finish(&j);
}

static void print_text(const struct check *c, const char *p[5][2])
{
	size_t i;

	printf("kernel: %s\n\nfeatures:\n", c->kernel);
	for (i = 0; i < ARRAY_SIZE(features); i++)
		printf("  %-4s %s\n", feat(c, &features[i]) ? "yes" : "no", features[i].what);
	printf("\npaths:\n");
	for (i = 0; i < 5; i++)
		printf("  %-15s %s\n", p[i][0], p[i][1]);
	printf("\nuserfaultfd via: %s\ncgroup2 mount: %s\nv1 freezer mount: %s\n"
	       "pipe-max-size: %ld\nTHP: %s (defrag %s)\n", c->uffd_via[0] ? c->uffd_via : "-",
	       c->cg2_mount[0] ? c->cg2_mount : "-", c->cg1_mount[0] ? c->cg1_mount : "-",
	       c->pipe_max, c->thp, c->thp_defrag);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *p[5][2];
	struct check c;
	int json = 0, o;

	while ((o = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: criu-mem check [--json]\n\n"
			       "Reports which kernel features this machine offers and which\n"
			       "path each capability of the dumper uses. Always exits 0.\n");
			return CM_EXIT_OK;
		default:
			return CM_EXIT_USAGE;
		}
	}
	check_run(&c);
	paths(&c, p);
	if (json)
		print_json(&c, p);
	else
		print_text(&c, p);
	return CM_EXIT_OK;
}
