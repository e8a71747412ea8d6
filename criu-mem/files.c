// SPDX-License-Identifier: MIT
/*
 * files.c: the fd table of a target from /proc/PID/fd (link text, stat of
 * the open file) and /proc/PID/fdinfo (flags, pos), classified for restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LOG_PREFIX "files: "
#include "files.h"
#include "log.h"
#include "util.h"

static int cmp_fd(const void *a, const void *b)
{
	const FdEntry *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

static FdKind classify(const struct stat *st, const char *link)
{
	unsigned int maj = major(st->st_rdev);

	if (!strcmp(link, "/dev/null"))
		return FD_KIND__FD_DEVNULL;
	if (S_ISREG(st->st_mode) && link[0] == '/')
		return FD_KIND__FD_REG;
	if (S_ISDIR(st->st_mode) && link[0] == '/')
		return FD_KIND__FD_DIR;
	/* an anonymous pipe, or a named FIFO that restore reopens by path */
	if (S_ISFIFO(st->st_mode) && (!strncmp(link, "pipe:[", 6) || link[0] == '/'))
		return FD_KIND__FD_PIPE;
	if (S_ISCHR(st->st_mode)) {
		/* 4: tty/ttyS, 5: /dev/tty and ptmx, 136-143: pts */
		if (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143))
			return FD_KIND__FD_TTY;
		return FD_KIND__FD_CHR;
	}
	return FD_KIND__FD_UNSUPPORTED;
}

static void read_fdinfo(pid_t pid, int fd, FdEntry *e)
{
	char path[64], *s = NULL, *p;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_file_str(path, &s, NULL, 1 << 16))
		return;
	p = strstr(s, "pos:");
	if (p) {
		e->has_pos = 1;
		e->pos = strtoull(p + 4, NULL, 10);
	}
	p = strstr(s, "flags:");
	if (p) {
		unsigned long fl = strtoul(p + 6, NULL, 8);

		e->has_flags = e->has_cloexec = 1;
		e->cloexec = !!(fl & O_CLOEXEC);
		e->flags = fl & ~O_CLOEXEC;
	}
	free(s);
}

static int read_one(pid_t pid, int fd, FdEntry *e)
{
	char path[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	fd_entry__init(e);
	e->fd = fd;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	if (stat(path, &st))
		memset(&st, 0, sizeof(st));	/* e.g. a socket of another netns */
	e->kind = classify(&st, link);
	e->path = strdup(link);
	if (!e->path)
		return -ENOMEM;
	e->has_mode = e->has_ino = e->has_dev = 1;
	e->mode = st.st_mode;
	e->ino = st.st_ino;
	e->dev = S_ISCHR(st.st_mode) ? st.st_rdev : st.st_dev;
	read_fdinfo(pid, fd, e);
	return 0;
}

int files_read(pid_t pid, struct fd_table *t)
{
	char path[64];
	struct dirent *d;
	size_t cap = 0;
	DIR *dir;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return cm_err(errno == ENOENT ? -ESRCH : -errno, "cannot list '%s'", path);
	while ((d = readdir(dir))) {
		int fd;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		fd = atoi(d->d_name);
		if (array_grow(&t->e, &cap, t->nr, sizeof(*t->e), 16)) {
			ret = cm_err(-ENOMEM, "pid %d: out of memory", pid);
			break;
		}
		ret = read_one(pid, fd, &t->e[t->nr]);
		if (ret == -ENOENT) {	/* closed meanwhile */
			ret = 0;
			continue;
		}
		t->nr++;
		if (ret) {
			ret = cm_err(ret, "pid %d: cannot read fd %d", pid, fd);
			break;
		}
	}
	closedir(dir);
	if (ret) {
		files_release(t);
		return ret;
	}
	qsort(t->e, t->nr, sizeof(*t->e), cmp_fd);
	return 0;
}

void files_release(struct fd_table *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		free(t->e[i].path);
	free(t->e);
	t->e = NULL;
	t->nr = 0;
}
