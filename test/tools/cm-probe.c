// SPDX-License-Identifier: MIT
/*
 * cm-probe: drives the target-side modules (freeze, inject, regs, files,
 * vma, pagescan) on a live pid for the integration tests and prints
 * machine-readable results and timings.
 */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "cm-probe: "
#include "files.h"
#include "freeze.h"
#include "guard.h"
#include "inject.h"
#include "log.h"
#include "pagescan.h"
#include "regs.h"
#include "util.h"
#include "vma.h"

struct probe {
	pid_t pid;
	const char *cgroup;
	struct freeze f;
	int frozen;
	struct guard g;		/* -g: a session guard (started before freezing) */
	int guarded;
	int death_sig;		/* -S: the guard SIGSTOPs the target after a repair */
};

static int probe_freeze_opt(struct probe *p, int thaw)
{
	struct freeze_opts o = { .cgroup = p->cgroup, .guard = &p->g };
	uint64_t t0 = now_ns();
	int ret = 0;

	if (p->guarded && !guard_active(&p->g))
		ret = guard_start(&p->g, p->pid);
	if (!ret && p->death_sig)
		ret = guard_set_death_signal(&p->g, p->death_sig);
	if (!ret)
		ret = freeze_seize(&p->f, p->pid, &o);
	if (ret)
		return ret;
	if (p->guarded)
		printf("guard %d\n", (int)guard_pid(&p->g));
	p->frozen = 1;
	printf("frozen %zu threads in %.1f us\n", p->f.nr_tids, (now_ns() - t0) / 1e3);
	return thaw ? freeze_thaw_cgroup(&p->f) : 0;
}

static int probe_freeze(struct probe *p)
{
	return probe_freeze_opt(p, 1);
}

static void probe_release(struct probe *p)
{
	uint64_t t0 = now_ns();

	if (!p->frozen)
		return;
	freeze_release(&p->f);
	p->frozen = 0;
	printf("released in %.1f us\n", (now_ns() - t0) / 1e3);
}

/* inject_init() plus, with -g, the guard (trampoline, undo log). */
static int probe_inject_init(struct probe *p, struct inject *in, pid_t tid)
{
	int ret = inject_init(in, tid);

	if (!ret && p->guarded) {
		ret = inject_attach_guard(in, &p->g);
		if (ret)
			inject_release(in);
	}
	return ret;
}


static void print_hex(const char *tag, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	printf(" %s=", tag);
	for (i = 0; i < len; i++)
		printf("%02x", b[i]);
}

static void print_thread(const ThreadCore *t)
{
	printf("thread %u", t->tid);
	print_hex("gpregs", t->gpregs.data, t->gpregs.len);
	if (t->has_xstate)
		print_hex("xstate", t->xstate.data, t->xstate.len);
	printf(" sigmask=%#" PRIx64 " syscall=%d comm=%s rseq=%#" PRIx64 " robust=%#" PRIx64
	       " cpus=%#" PRIx64 "\n", t->sigmask, t->syscall_nr, t->comm ? t->comm : "?",
	       t->rseq_addr, t->robust_list, t->cpu_mask);
}

static int cmd_regs(struct probe *p)
{
	size_t i;
	int ret = probe_freeze(p);

	for (i = 0; !ret && i < p->f.nr_tids; i++) {
		ThreadCore t;

		ret = regs_thread_capture(p->f.tids[i], NULL, NULL, &t);
		if (!ret)
			print_thread(&t);
		regs_thread_release(&t);
	}
	return ret;
}

static int same_state(const ThreadCore *a, const ThreadCore *b)
{
	return a->gpregs.len == b->gpregs.len &&
	       !memcmp(a->gpregs.data, b->gpregs.data, a->gpregs.len) &&
	       a->xstate.len == b->xstate.len &&
	       !memcmp(a->xstate.data, b->xstate.data, a->xstate.len) &&
	       a->sigmask == b->sigmask && a->cpu_mask == b->cpu_mask;
}

static long must(struct inject *in, long nr, unsigned long a0, unsigned long a1,
		 unsigned long a2, int *err)
{
	unsigned long a[6] = { a0, a1, a2 };
	int ok;
	long r = inject_syscall(in, nr, a, &ok);

	if (!ok)
		*err = (int)r;
	return r;
}

/* getpid, mmap+poke+munmap, pipe2+close, a write to a reader-less pipe. */
static int inject_session(struct probe *p, struct inject *in)
{
	struct inject_scratch s = { 0 };
	int fds[2], err = 0, ret;
	struct iovec l = { fds, sizeof(fds) }, r;
	long v;

	v = must(in, SYS_getpid, 0, 0, 0, &err);
	if (err || v != p->pid)
		return cm_err(err ? err : -EPROTO, "getpid gave %ld", v);
	ret = inject_scratch_map(in, 1 << 20, &s);
	if (ret)
		return ret;
	ret = inject_poke(p->pid, s.addr, "hello", 6);
	v = must(in, SYS_pipe2, s.addr, 0, 0, &err);
	r.iov_base = (void *)(uintptr_t)s.addr;
	r.iov_len = sizeof(fds);
	if (!ret && (err || v || process_vm_readv(in->tid, &l, 1, &r, 1, 0) != sizeof(fds)))
		ret = cm_err(err ? err : -EPROTO, "pipe2 gave %ld", v);
	if (!ret) {
		must(in, SYS_close, fds[0], 0, 0, &err);
		v = must(in, SYS_write, fds[1], s.addr, 4, &err);	/* SIGPIPE */
		if (!err && v != -EPIPE)
			ret = cm_err(-EPROTO, "write to a closed pipe gave %ld", v);
		must(in, SYS_close, fds[1], 0, 0, &err);
	}
	if (inject_scratch_unmap(in, &s) && !ret)
		ret = -EFAULT;
	return ret ? ret : err;
}

static int cmd_inject(struct probe *p, int all)
{
	size_t i, n;
	int ret = probe_freeze(p), bad = 0;

	n = all ? p->f.nr_tids : 1;
	for (i = 0; !ret && i < n; i++) {
		pid_t tid = p->f.tids[i];
		ThreadCore a, b;
		struct inject in;

		ret = regs_thread_capture(tid, NULL, NULL, &a);
		if (!ret)
			ret = probe_inject_init(p, &in, tid);
		if (!ret) {
			ret = inject_session(p, &in);
			if (inject_release(&in) && !ret)
				ret = -EIO;
		}
		if (!ret)
			ret = regs_thread_capture(tid, NULL, NULL, &b);
		if (!ret) {
			int same = same_state(&a, &b);

			printf("thread %d %s\n", tid, same ? "identical" : "CHANGED");
			if (!same) {
				print_thread(&a);
				print_thread(&b);
				bad = 1;
			}
			regs_thread_release(&b);
		}
		regs_thread_release(&a);
	}
	return ret ? ret : bad ? -EPROTO : 0;
}

static int cmd_bench(struct probe *p, long nr, int count)
{
	unsigned long a[6] = { 0 };
	struct inject in;
	uint64_t t0;
	int i, ok = 1, ret = probe_freeze(p);
	long r = 0;

	if (ret)
		return ret;
	ret = probe_inject_init(p, &in, p->pid);
	if (ret)
		return ret;
	t0 = now_ns();
	for (i = 0; i < count && ok; i++) {
		if (nr == SYS_mmap) {
			struct inject_scratch s;

			ok = !inject_scratch_map(&in, 4096, &s) && !inject_scratch_unmap(&in, &s);
		} else {
			r = inject_syscall(&in, nr, a, &ok);
		}
	}
	printf("%d injected %s in %.1f us: %.2f us per syscall (last result %ld)\n", i,
	       nr == SYS_mmap ? "mmap+munmap pairs" : "syscalls", (now_ns() - t0) / 1e3,
	       (now_ns() - t0) / 1e3 / (nr == SYS_mmap ? 2 * i : i), r);
	ret = inject_release(&in);
	return ok ? ret : -EIO;
}

/* Signals sent while we inject must reach the target after release: sig
 * with tkill, then count sigqueue()s of SIGRTMIN+1 with values 100, 101... */
static int cmd_signal(struct probe *p, int sig, int count)
{
	unsigned long a[6] = { 0 };
	struct inject in;
	int i, ok, ret = probe_freeze(p);

	if (ret)
		return ret;
	ret = probe_inject_init(p, &in, p->pid);
	if (ret)
		return ret;
	syscall(SYS_tkill, p->pid, sig);
	for (i = 0; i < count; i++)
		sigqueue(p->pid, SIGRTMIN + 1, (union sigval){ .sival_int = 100 + i });
	for (i = 0; i < 3 + count; i++) {
		long r = inject_syscall(&in, SYS_getpid, a, &ok);

		if (!ok || r != p->pid)
			ret = -EPROTO;
	}
	printf("held signals %#" PRIx64 " (%zu instances)\n", in.requeue, in.nr_held);
	if (inject_release(&in) && !ret)
		ret = -EIO;
	return ret;
}

/* Injects a getpid into every thread, then holds the session open (for a
 * test that SIGKILLs us between injected calls). */
static int cmd_inject_hold(struct probe *p, double secs)
{
	unsigned long a[6] = { 0 };
	struct inject *in;
	size_t i, n;
	int ok, ret = probe_freeze(p);

	if (ret)
		return ret;
	n = p->f.nr_tids;
	in = calloc(n, sizeof(*in));
	if (!in)
		return -ENOMEM;
	for (i = 0; !ret && i < n; i++) {
		ret = probe_inject_init(p, &in[i], p->f.tids[i]);
		if (!ret && inject_syscall(&in[i], SYS_getpid, a, &ok) != p->pid)
			ret = -EPROTO;
	}
	printf("injected %zu threads\n", i);
	fflush(stdout);
	usleep((useconds_t)(secs * 1e6));
	for (i = 0; i < n; i++)
		inject_release(&in[i]);
	free(in);
	return ret;
}

static int cmd_hold(struct probe *p, double secs)
{
	uint64_t end;
	int ret = probe_freeze_opt(p, 0);	/* the cgroup stays frozen */

	if (ret)
		return ret;
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		if (freeze_interrupted(&p->f)) {
			sigset_t set;
			int sig;

			/* take the signal now so that releasing (which restores our
			 * mask) does not kill us before we report */
			sigemptyset(&set);
			sigaddset(&set, SIGINT);
			sigaddset(&set, SIGTERM);
			sigaddset(&set, SIGHUP);
			sig = sigtimedwait(&set, NULL, &(struct timespec){ 0, 0 });
			printf("interrupted by signal %d\n", sig);
			break;
		}
		usleep(10000);
	}
	return 0;
}

static int print_run(void *arg, const struct pscan_run *r)
{
	uint64_t *total = arg;

	total[0]++;
	total[1] += r->nr_pages;
	printf("run %#" PRIx64 " %" PRIu64 " %#x\n", r->vaddr, r->nr_pages, r->flags);
	return 0;
}

static int cmd_scan(struct probe *p, uint64_t start, uint64_t end, const char *mode)
{
	enum pscan_mode m = !mode ? PSCAN_AUTO : !strcmp(mode, "pagemap") ? PSCAN_PAGEMAP :
			    PSCAN_IOCTL;
	uint64_t total[2] = { 0, 0 }, t0;
	struct pscan s;
	int ret = pscan_open(&s, p->pid, m);

	if (ret)
		return ret;
	t0 = now_ns();
	ret = pscan_range(&s, start, end, print_run, total);
	printf("scanned %.1f MiB in %.3f ms (%s, %" PRIu64 " calls): %" PRIu64 " runs, %" PRIu64
	       " pages\n", (end - start) / 1048576.0, (now_ns() - t0) / 1e6,
	       s.mode == PSCAN_IOCTL ? "ioctl" : "pagemap", s.nr_calls, total[0], total[1]);
	pscan_close(&s);
	return ret;
}

static int cmd_vmas(struct probe *p)
{
	struct vma_list l;
	uint64_t t0 = now_ns();
	size_t i;
	int ret;

	vma_list_init(&l);
	ret = vma_list_read(&l, p->pid);
	for (i = 0; !ret && i < l.nr; i++) {
		const struct vma *v = &l.v[i];

		printf("vma %#" PRIx64 "-%#" PRIx64 " prot=%u flags=%#x kind=%d shift=%u "
		       "vmflags=%#" PRIx64 " rss=%" PRIu64 " thp=%" PRIu64 " bid=%u del=%d %s\n",
		       v->start, v->end, v->prot, v->flags, v->kind, v->page_shift, v->vm_flags,
		       v->rss_kb, v->anon_huge_kb, v->build_id_len, v->deleted,
		       v->path ? v->path : "");
	}
	printf("%zu vmas in %.3f ms\n", l.nr, (now_ns() - t0) / 1e6);
	vma_list_release(&l);
	return ret;
}

static int cmd_files(struct probe *p)
{
	struct fd_table t;
	size_t i;
	int ret = files_read(p->pid, &t);

	for (i = 0; !ret && i < t.nr; i++)
		printf("fd %u kind=%d flags=%#o pos=%" PRIu64 " cloexec=%d ino=%" PRIu64 " %s\n",
		       t.e[i].fd, t.e[i].kind, t.e[i].flags, t.e[i].pos, t.e[i].cloexec,
		       t.e[i].ino, t.e[i].path);
	files_release(&t);
	return ret;
}

static int cmd_task(struct probe *p)
{
	struct inject_scratch s = { 0 };
	struct vma_list l;
	struct inject in;
	TaskCore t;
	MmEntry m;
	ThreadCore th;
	size_t i;
	int ret = probe_freeze(p);

	vma_list_init(&l);
	if (!ret)
		ret = probe_inject_init(p, &in, p->pid);
	if (ret)
		return ret;
	ret = inject_scratch_map(&in, 4096, &s);
	if (!ret)
		ret = regs_task_capture(p->pid, &in, &s, &t);
	if (!ret) {
		printf("task umask=%#o cwd=%s root=%s personality=%#x blocked=%#" PRIx64
		       " exit_signal=%d\n", t.umask, t.cwd, t.root, t.personality, t.blocked,
		       t.exit_signal);
		for (i = 0; i < t.n_sigactions; i++)
			printf("sigaction %u handler=%#" PRIx64 " flags=%#" PRIx64 " mask=%#" PRIx64
			       "\n", t.sigactions[i]->sig, t.sigactions[i]->handler,
			       t.sigactions[i]->flags, t.sigactions[i]->mask);
		regs_task_release(&t);
		ret = regs_thread_capture(p->pid, &in, &s, &th);
	}
	if (!ret) {
		printf("altstack sp=%#" PRIx64 " size=%" PRIu64 " flags=%u clear_tid=%#" PRIx64 "\n",
		       th.altstack_sp, th.altstack_size, th.altstack_flags, th.clear_tid_addr);
		regs_thread_release(&th);
		ret = vma_list_read(&l, p->pid);
	}
	if (!ret)
		ret = mm_entry_read(p->pid, &l, &in, &m);
	if (!ret) {
		printf("mm brk=%#" PRIx64 " start_brk=%#" PRIx64 " code=%#" PRIx64 "-%#" PRIx64
		       " auxv=%zu exe=%s build_id=%zu\n", m.brk, m.start_brk, m.start_code,
		       m.end_code, m.n_auxv, m.exe_path, m.exe_build_id.len);
		mm_entry_release(&m);
	}
	inject_scratch_unmap(&in, &s);
	inject_release(&in);
	vma_list_release(&l);
	return ret;
}

/* With -g: injects read(fd, scratch, 1) into thread tid and blocks there
 * (the test SIGKILLs us mid-call). */
static int cmd_block(struct probe *p, pid_t tid, int fd)
{
	struct inject_scratch s = { 0 };
	unsigned long a[6] = { 0 };
	struct inject in;
	int ok, ret = probe_freeze(p);
	long r;

	if (!ret)
		ret = probe_inject_init(p, &in, tid);
	if (ret)
		return ret;
	ret = inject_scratch_map(&in, 4096, &s);
	if (!ret) {
		printf("tramp %#lx scratch %#lx\nblocking\n", (unsigned long)in.syscall_ip,
		       (unsigned long)s.addr);
		fflush(stdout);
		a[0] = fd;
		a[1] = s.addr;
		a[2] = 1;
		r = inject_syscall(&in, SYS_read, a, &ok);
		printf("read gave %ld\n", r);
		inject_scratch_unmap(&in, &s);
	}
	inject_release(&in);
	return ret;
}

/* One round of changes the guard must undo: scratch, pipe fds, getpid. */
static int loop_round(struct probe *p, struct inject *in)
{
	struct inject_scratch s = { 0 };
	int fds[2], err = 0, ret;
	struct iovec l = { fds, sizeof(fds) }, r;
	unsigned long a[6] = { 0 };
	long v;

	v = must(in, SYS_getpid, 0, 0, 0, &err);
	if (err || v != p->pid)
		return err ? err : -EPROTO;
	ret = inject_scratch_map(in, 65536, &s);
	if (ret)
		return ret;
	ret = inject_poke(p->pid, s.addr, "guard", 6);
	a[0] = s.addr;
	v = inject_syscall_tracked(in, SYS_pipe2, a, NULL);
	r.iov_base = (void *)(uintptr_t)s.addr;
	r.iov_len = sizeof(fds);
	if (!ret && (v || process_vm_readv(p->pid, &l, 1, &r, 1, 0) != sizeof(fds)))
		ret = -EPROTO;
	if (!ret) {
		must(in, SYS_close, fds[0], 0, 0, &err);
		must(in, SYS_close, fds[1], 0, 0, &err);
	}
	if (inject_scratch_unmap(in, &s) && !ret)
		ret = -EFAULT;
	return ret ? ret : err;
}

/* With -g: rounds of injected calls into every thread for SECONDS (the
 * test SIGKILLs us at random points). */
static int cmd_loop(struct probe *p, double secs)
{
	struct inject *in;
	uint64_t end;
	size_t i, n, rounds = 0;
	int ret = probe_freeze(p);

	if (ret)
		return ret;
	n = p->f.nr_tids;
	in = calloc(n, sizeof(*in));
	if (!in)
		return -ENOMEM;
	for (i = 0; !ret && i < n; i++)
		ret = probe_inject_init(p, &in[i], p->f.tids[i]);
	n = i - (ret ? 1 : 0);
	printf("looping\n");
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (!ret && now_ns() < end)
		ret = loop_round(p, &in[rounds++ % n]);
	printf("%zu rounds\n", rounds);
	for (i = 0; i < n; i++)
		inject_release(&in[i]);
	free(in);
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: cm-probe [-v] [-g] [-c CGROUP] CMD PID [ARGS]\n"
		"  -g: guarded session (guard process, trampoline); -S: it SIGSTOPs the target\n"
		"  guard-block TID FD | guard-loop SECONDS\n"
		"  seize | regs | inject | inject-all | inject-getpid [N] | inject-mmap [N]\n"
		"  inject-signal SIG [NRT] | inject-hold SECONDS | freeze-hold SECONDS | scan START END [ioctl|pagemap] | vmas | files | task\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct probe p = { 0 };
	const char *cmd;
	int i = 1, ret;

	log_set_level(LOG_WARN);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v"))
			log_set_level(LOG_DEBUG);
		else if (!strcmp(argv[i], "-g"))
			p.guarded = 1;
		else if (!strcmp(argv[i], "-S"))
			p.death_sig = SIGSTOP;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			p.cgroup = argv[++i];
		else
			usage();
	}
	if (argc - i < 2)
		usage();
	cmd = argv[i];
	p.pid = atoi(argv[i + 1]);
	argv += i + 2;
	argc -= i + 2;
	freeze_init(&p.f);
	guard_init(&p.g);
	if (!strcmp(cmd, "seize"))
		ret = probe_freeze(&p);
	else if (!strcmp(cmd, "regs"))
		ret = cmd_regs(&p);
	else if (!strcmp(cmd, "inject") || !strcmp(cmd, "inject-all"))
		ret = cmd_inject(&p, !strcmp(cmd, "inject-all"));
	else if (!strcmp(cmd, "inject-getpid"))
		ret = cmd_bench(&p, SYS_getpid, argc ? atoi(argv[0]) : 1000);
	else if (!strcmp(cmd, "inject-mmap"))
		ret = cmd_bench(&p, SYS_mmap, argc ? atoi(argv[0]) : 100);
	else if (!strcmp(cmd, "inject-signal") && argc >= 1)
		ret = cmd_signal(&p, atoi(argv[0]), argc > 1 ? atoi(argv[1]) : 0);
	else if (!strcmp(cmd, "inject-hold") && argc >= 1)
		ret = cmd_inject_hold(&p, atof(argv[0]));
	else if (!strcmp(cmd, "freeze-hold") && argc >= 1)
		ret = cmd_hold(&p, atof(argv[0]));
	else if (!strcmp(cmd, "scan") && argc >= 2)
		ret = cmd_scan(&p, strtoull(argv[0], NULL, 0), strtoull(argv[1], NULL, 0),
			       argc > 2 ? argv[2] : NULL);
	else if (!strcmp(cmd, "vmas"))
		ret = cmd_vmas(&p);
	else if (!strcmp(cmd, "files"))
		ret = cmd_files(&p);
	else if (!strcmp(cmd, "task"))
		ret = cmd_task(&p);
	else if (!strcmp(cmd, "guard-block") && argc >= 2)
		ret = cmd_block(&p, atoi(argv[0]), atoi(argv[1]));
	else if (!strcmp(cmd, "guard-loop") && argc >= 1)
		ret = cmd_loop(&p, atof(argv[0]));
	else
		usage();
	probe_release(&p);
	guard_finish(&p.g);
	fflush(stdout);
	if (ret)
		fprintf(stderr, "cm-probe: %s failed: %s\n", cmd, strerror(-ret));
	return ret == -ESRCH || ret == -EPERM || ret == -EBUSY ? 4 : ret ? 1 : 0;
}
