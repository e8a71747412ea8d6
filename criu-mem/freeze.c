// SPDX-License-Identifier: MIT
/*
 * freeze.c: stop every thread of a target (PTRACE_SEIZE + PTRACE_INTERRUPT,
 * re-listing /proc/PID/task until stable), optionally behind a cgroup v2 or
 * v1 freezer guarded by a forked thawer, and always undo it on release.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_PREFIX "freeze: "
#include "freeze.h"
#include "guard.h"
#include "kapi.h"
#include "log.h"
#include "util.h"

#define FREEZE_TIMEOUT_NS	(10ull * 1000 * 1000 * 1000)

/* State letter, TracerPid (and Tgid when tgid != NULL) from /proc/PID/status;
 * -ESRCH when gone. */
static int read_status_tgid(pid_t pid, char *state, pid_t *tracer, pid_t *tgid)
{
	char path[64], *buf = NULL, *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	ret = read_file_str(path, &buf, NULL, 1 << 16);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	*state = '?';
	*tracer = 0;
	p = strstr(buf, "\nState:");
	if (p && sscanf(p + 7, " %c", state) != 1)
		*state = '?';
	p = strstr(buf, "\nTracerPid:");
	if (p)
		*tracer = atoi(p + 11);
	p = strstr(buf, "\nTgid:");
	if (p && tgid)
		*tgid = atoi(p + 6);
	free(buf);
	return 0;
}

static int read_status(pid_t pid, char *state, pid_t *tracer)
{
	return read_status_tgid(pid, state, tracer, NULL);
}

static int check_target(struct freeze *f, pid_t pid)
{
	char st;
	pid_t tracer, tgid = pid;
	int ret = read_status_tgid(pid, &st, &tracer, &tgid);

	if (ret == -ESRCH)
		return cm_err(-ESRCH, "pid %d does not exist", pid);
	if (ret)
		return cm_err(ret, "cannot read the status of pid %d", pid);
	if (st == 'Z' || st == 'X')
		return cm_err(-ESRCH, "pid %d is a zombie", pid);
	if (tracer)
		return cm_err(-EBUSY, "pid %d is already traced by %d", pid, tracer);
	if (tgid != pid)
		return cm_err(-ESRCH, "pid %d is a thread of process %d; give the process id",
			      pid, tgid);
	f->was_stopped = (st == 'T');
	return 0;
}

/* ---- cgroup freezer ---- */

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[4096];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write_full(fd, val, strlen(val));
	close(fd);
	return ret;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int cg_thaw_dir(const char *dir, int v1)
{
	return v1 ? cg_write(dir, "freezer.state", "THAWED") : cg_write(dir, "cgroup.freeze", "0");
}

static int cg_wait_v2(const char *dir)
{
	char path[4096], buf[512];
	uint64_t t0 = now_ns();
	struct pollfd pfd;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0)
		return -errno;
	pfd.events = POLLPRI;
	for (;;) {
		ssize_t n = pread(pfd.fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			ret = -errno;
			break;
		}
		buf[n] = 0;
		if (strstr(buf, "frozen 1"))
			break;
		if (now_ns() - t0 > FREEZE_TIMEOUT_NS) {
			ret = -ETIMEDOUT;
			break;
		}
		poll(&pfd, 1, 100);
	}
	close(pfd.fd);
	return ret;
}

static int cg_wait_v1(const char *dir)
{
	uint64_t t0 = now_ns(), kick = t0;
	char buf[64];
	int ret;

	for (;;) {
		ret = cg_read(dir, "freezer.state", buf, sizeof(buf));
		if (ret)
			return ret;
		if (!strncmp(buf, "FROZEN", 6))
			return 0;
		if (now_ns() - t0 > FREEZE_TIMEOUT_NS)
			return -ETIMEDOUT;
		if (now_ns() - kick > 50 * 1000 * 1000) {
			/* stuck in FREEZING: writing FROZEN again re-tries the
			 * tasks that missed the first wakeup */
			cg_write(dir, "freezer.state", "FROZEN");
			kick = now_ns();
		}
		usleep(100);
	}
}

/* The cgroup goes into the session's undo log, or a guard of our own is
 * forked for it, so a SIGKILLed dumper never leaves it frozen. */
static int guard_cgroup(struct freeze *f, const char *dir)
{
	int ret;

	if (guard_active(f->guard)) {
		/* the session guard (freeze_opts.guard) */
	} else {
		f->own_guard = malloc(sizeof(*f->own_guard));
		if (!f->own_guard)
			return -ENOMEM;
		guard_init(f->own_guard);
		ret = guard_start(f->own_guard, f->pid);
		if (ret) {
			free(f->own_guard);
			f->own_guard = NULL;
			return ret;
		}
		f->guard = f->own_guard;
	}
	return guard_note_cgroup(f->guard, dir, f->cg_v1);
}

static void guard_stop(struct freeze *f)
{
	f->guard = NULL;
	if (!f->own_guard)
		return;
	guard_finish(f->own_guard);
	free(f->own_guard);
	f->own_guard = NULL;
}

static int cg_freeze(struct freeze *f, const char *dir)
{
	char buf[64];
	int ret;

	if (!cg_read(dir, "cgroup.freeze", buf, sizeof(buf))) {
		f->cg_v1 = 0;
	} else if (!cg_read(dir, "freezer.state", buf, sizeof(buf))) {
		f->cg_v1 = 1;
	} else {
		return cm_err(-ENOENT, "'%s' is neither a cgroup v2 directory nor a v1 freezer",
			      dir);
	}
	if (buf[0] == '1' || !strncmp(buf, "FROZEN", 6)) {
		pr_info("cgroup '%s' is already frozen; leaving it as it is", dir);
		return 0;
	}
	f->cg_path = strdup(dir);
	if (!f->cg_path)
		return cm_err(-ENOMEM, "out of memory");
	ret = guard_cgroup(f, dir);
	if (ret)
		return cm_err(ret, "cannot start the cgroup guard for '%s'", dir);
	f->t_freeze_ns = now_ns();
	f->cg_frozen = 1;
	ret = f->cg_v1 ? cg_write(dir, "freezer.state", "FROZEN") :
			 cg_write(dir, "cgroup.freeze", "1");
	if (!ret)
		ret = f->cg_v1 ? cg_wait_v1(dir) : cg_wait_v2(dir);
	if (ret)
		return cm_err(ret, "cannot freeze cgroup '%s'", dir);
	return 0;
}

/* ---- ptrace ---- */

static int tids_add(struct freeze *f, pid_t tid)
{
	if (f->nr_tids == f->cap_tids) {
		size_t cap = f->cap_tids ? f->cap_tids * 2 : 16;
		pid_t *n = realloc(f->tids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		f->tids = n;
		f->cap_tids = cap;
	}
	f->tids[f->nr_tids++] = tid;
	return 0;
}

static int tids_has(const struct freeze *f, pid_t tid)
{
	size_t i;

	for (i = 0; i < f->nr_tids; i++)
		if (f->tids[i] == tid)
			return 1;
	return 0;
}

static void tids_del(struct freeze *f, size_t i)
{
	memmove(&f->tids[i], &f->tids[i + 1], (f->nr_tids - i - 1) * sizeof(pid_t));
	f->nr_tids--;
}

static int seize_one(struct freeze *f, pid_t tid)
{
	char st;
	pid_t tracer = 0;
	int err;

	if (!ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD)) {
		if (!f->t_freeze_ns)
			f->t_freeze_ns = now_ns();
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) && errno != ESRCH)
			return cm_err(-errno, "pid %d: cannot interrupt thread %d", f->pid, tid);
		return tids_add(f, tid) ? cm_err(-ENOMEM, "pid %d: out of memory", f->pid) : 0;
	}
	err = -errno;
	if (err == -ESRCH) {
		if (tid == f->pid)
			return cm_err(-ESRCH, "pid %d exited", f->pid);
		return 0;	/* the thread exited meanwhile */
	}
	if (err == -EPERM && !read_status(tid, &st, &tracer) && tracer)
		return cm_err(-EBUSY, "pid %d is already traced by %d", f->pid, tracer);
	return cm_err(err, "cannot seize thread %d of pid %d", tid, f->pid);
}

/* Seizes every listed thread not seized yet; *added counts them. */
static int seize_listed(struct freeze *f, size_t *added)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	*added = 0;
	if (!f->nr_tids) {	/* the leader first */
		ret = seize_one(f, f->pid);
		if (ret)
			return ret;
		*added = f->nr_tids;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", f->pid);
	dir = opendir(path);
	if (!dir)
		return cm_err(errno == ENOENT ? -ESRCH : -errno, "cannot list '%s'", path);
	while ((d = readdir(dir))) {
		pid_t tid = atoi(d->d_name);
		size_t before = f->nr_tids;

		if (tid <= 0 || tids_has(f, tid))
			continue;
		ret = seize_one(f, tid);
		if (ret)
			break;
		*added += f->nr_tids - before;
	}
	closedir(dir);
	return ret;
}

/* Waits for the interrupt (or group) stop of tids[from..]; drops exited ones. */
static int wait_stops(struct freeze *f, size_t from)
{
	size_t i = from, pending = f->nr_tids - from;
	uint64_t t0 = now_ns(), delay = 1000;
	char *done = calloc(f->nr_tids, 1);
	sigset_t chld, old;
	int st, ret = 0;

	if (!done)
		return cm_err(-ENOMEM, "pid %d: out of memory", f->pid);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	while (pending) {
		int progress = 0;

		for (i = from; i < f->nr_tids; i++) {
			pid_t r;

			if (done[i])
				continue;
			r = waitpid(f->tids[i], &st, __WALL | WNOHANG);
			if (r == 0)
				continue;
			progress = 1;
			if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
				done[i] = 2;	/* gone */
				pending--;
			} else if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP) {
				done[i] = 1;
				pending--;
			} else if (WIFSTOPPED(st)) {
				/* A signal-delivery-stop came first: deliver it; the
				 * pending interrupt traps before user mode. */
				int sig = WSTOPSIG(st) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(st);

				ptrace(PTRACE_CONT, f->tids[i], 0, sig);
			}
		}
		if (progress || !pending)
			continue;
		if (now_ns() - t0 > FREEZE_TIMEOUT_NS) {
			ret = cm_err(-ETIMEDOUT, "pid %d: %zu thread(s) did not stop", f->pid,
				     pending);
			goto out;
		}
		/* Every ptrace stop sends SIGCHLD to the tracer: sleep until one
		 * comes (SIGCHLD is blocked here), or at most a short while in case
		 * the caller ignores SIGCHLD or another thread consumed it. */
		if (delay < 1000000)
			delay *= 2;
		sigtimedwait(&chld, NULL, &(struct timespec){ 0, (long)delay });
	}
	for (i = f->nr_tids; i-- > from;) {
		if (done[i] != 2)
			continue;
		if (f->tids[i] == f->pid) {
			ret = cm_err(-ESRCH, "pid %d exited while being frozen", f->pid);
			goto out;
		}
		tids_del(f, i);
	}
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(done);
	return ret;
}

static int seize_all(struct freeze *f)
{
	size_t added, from;
	int ret, rounds = 0;

	do {
		from = f->nr_tids;
		ret = seize_listed(f, &added);
		if (ret)
			return ret;
		if (f->cg_v1 && f->cg_frozen && added)
			continue;	/* v1: stops arrive only after THAWED */
		if (f->cg_v1 && f->cg_frozen) {
			ret = freeze_thaw_cgroup(f);
			if (ret)
				return ret;
			from = 0;
			added = f->nr_tids;
		}
		ret = wait_stops(f, from);
		if (ret)
			return ret;
		f->nr_stopped = f->nr_tids;
		if (++rounds > 1000)
			return cm_err(-EAGAIN, "pid %d: thread list never settles", f->pid);
	} while (added);
	return 0;
}

void freeze_init(struct freeze *f)
{
	memset(f, 0, sizeof(*f));
	f->pidfd = -1;
	f->cg_fd = -1;
}

int freeze_seize(struct freeze *f, pid_t pid, const struct freeze_opts *o)
{
	sigset_t block;
	int ret;

	freeze_init(f);
	f->pid = pid;
	ret = check_target(f, pid);
	if (ret)
		return ret;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	if (!sigprocmask(SIG_BLOCK, &block, &f->saved_mask))
		f->signals_blocked = 1;
	f->pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (o && guard_active(o->guard))
		f->guard = o->guard;
	if (o && o->cgroup) {
		ret = cg_freeze(f, o->cgroup);
		if (ret)
			goto fail;
	}
	ret = seize_all(f);
	if (ret)
		goto fail;
	pr_debug("pid %d: %zu thread(s) stopped", pid, f->nr_tids);
	return 0;
fail:
	/* Seized threads with an interrupt pending must reach their stop
	 * before they can be detached. */
	if (f->nr_tids > f->nr_stopped) {
		if (f->cg_v1)
			freeze_thaw_cgroup(f);
		wait_stops(f, f->nr_stopped);
	}
	freeze_release(f);
	return ret;
}

int freeze_thaw_cgroup(struct freeze *f)
{
	int ret;

	if (!f->cg_frozen)
		return 0;
	f->cg_frozen = 0;
	ret = cg_thaw_dir(f->cg_path, f->cg_v1);
	if (ret)
		return cm_err(ret, "cannot thaw cgroup '%s'", f->cg_path);
	guard_forget_cgroup(f->guard);
	return 0;
}

int freeze_interrupted(const struct freeze *f)
{
	sigset_t pend;

	(void)f;
	if (sigpending(&pend))
		return 0;
	return sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1 ||
	       sigismember(&pend, SIGHUP) == 1;
}

int freeze_release(struct freeze *f)
{
	int ret = 0, err;
	size_t i;

	for (i = 0; i < f->nr_tids; i++) {
		if (!ptrace(PTRACE_DETACH, f->tids[i], 0, 0) || errno == ESRCH)
			continue;
		err = cm_err(-errno, "pid %d: cannot detach thread %d", f->pid, f->tids[i]);
		if (!ret)
			ret = err;
	}
	if (f->nr_tids || f->cg_frozen)
		f->t_thaw_ns = now_ns();
	f->nr_tids = 0;
	err = freeze_thaw_cgroup(f);
	if (err && !ret)
		ret = err;
	guard_stop(f);
	close_safe(&f->pidfd);
	close_safe(&f->cg_fd);
	free(f->tids);
	f->tids = NULL;
	f->cap_tids = 0;
	free(f->cg_path);
	f->cg_path = NULL;
	if (f->signals_blocked) {
		sigprocmask(SIG_SETMASK, &f->saved_mask, NULL);
		f->signals_blocked = 0;
	}
	return ret;
}

int freeze_kill(struct freeze *f)
{
	int ret = 0;

	if (f->pidfd >= 0)
		ret = syscall(SYS_pidfd_send_signal, f->pidfd, SIGKILL, NULL, 0);
	else if (f->pid > 0)
		ret = kill(f->pid, SIGKILL);
	if (ret && errno != ESRCH)
		ret = cm_err(-errno, "cannot kill pid %d", f->pid);
	else
		ret = 0;
	if (f->cg_frozen && f->cg_v1)
		freeze_thaw_cgroup(f);	/* v1-frozen tasks cannot die */
	freeze_release(f);
	return ret;
}

uint64_t freeze_elapsed_ns(const struct freeze *f)
{
	if (!f->t_freeze_ns)
		return 0;
	return (f->t_thaw_ns ? f->t_thaw_ns : now_ns()) - f->t_freeze_ns;
}
