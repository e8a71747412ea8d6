// SPDX-License-Identifier: MIT
/*
 * restore_new_fds.c: the fd table of a process restored as a new process.
 * rn_fds_prepare() opens everything in criu-mem from files-PID.img (so
 * errors name the file); the forked host then only moves descriptors into
 * place with rn_fds_install(), which is async-signal-safe.
 */
#define LOG_PREFIX "restore: "

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"
#include "log.h"
#include "restore.h"
#include "restore_new.h"
#include "util.h"

#define RN_MAX_FDNUM	(1 << 20)

static const char *const fd_kind_names[] = {
	[FD_KIND__FD_REG] = "regular file", [FD_KIND__FD_DEVNULL] = "/dev/null",
	[FD_KIND__FD_PIPE] = "pipe", [FD_KIND__FD_TTY] = "tty",
	[FD_KIND__FD_INHERIT] = "inherited", [FD_KIND__FD_UNSUPPORTED] = "unsupported",
	[FD_KIND__FD_CHR] = "character device", [FD_KIND__FD_DIR] = "directory",
};

static const char *fd_kind_name(FdKind k)
{
	if ((unsigned int)k < ARRAY_SIZE(fd_kind_names) && fd_kind_names[k])
		return fd_kind_names[k];
	return "unknown";
}

static int fds_add(struct rn_fds *f, int fd, int src, int cloexec, int owned)
{
	size_t i;

	for (i = 0; i < f->nr; i++) {
		if (f->v[i].fd != fd)
			continue;
		/* A later source (--stdout, --inherit-fd) replaces the image's. */
		if (f->v[i].owned)
			close_safe(&f->v[i].src);
		f->v[i] = (struct rn_fd){ fd, src, cloexec, owned };
		return 0;
	}
	if (array_grow(&f->v, &f->cap, f->nr, sizeof(*f->v), 16))
		return cm_err(-ENOMEM, "fd table");
	f->v[f->nr++] = (struct rn_fd){ fd, src, cloexec, owned };
	return 0;
}

void rn_fds_release(struct rn_fds *f)
{
	size_t i;

	for (i = 0; i < f->nr; i++)
		if (f->v[i].owned)
			close_safe(&f->v[i].src);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* Flags a file is reopened with: the image's status flags, never creating. */
static int reopen_flags(const FdEntry *e)
{
	int keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT |
		   O_NOATIME | O_LARGEFILE | O_DIRECTORY | O_PATH;

	return ((e->has_flags ? (int)e->flags : O_RDONLY) & keep) | O_NOCTTY;
}

/* The file type a kind must have when reopened. */
static int type_matches(FdKind k, mode_t mode)
{
	switch (k) {
	case FD_KIND__FD_REG:
		return S_ISREG(mode);
	case FD_KIND__FD_DIR:
		return S_ISDIR(mode);
	case FD_KIND__FD_DEVNULL:
	case FD_KIND__FD_CHR:
	case FD_KIND__FD_TTY:
		return S_ISCHR(mode);
	case FD_KIND__FD_PIPE:
		return S_ISFIFO(mode);
	default:
		return 0;
	}
}

static int open_path(const FdEntry *e, const char *path, int *out)
{
	struct stat st;
	int fd;

	if (!path || !*path)
		return cm_err(-EBADMSG, "fd %u (%s): no path in the image", e->fd,
			      fd_kind_name(e->kind));
	if (strstr(path, " (deleted)"))
		return cm_err(-ENOENT, "fd %u: file '%s' was deleted before the dump", e->fd, path);
	/* O_NONBLOCK: a FIFO put at the path must not block criu-mem. */
	fd = open(path, reopen_flags(e) | O_NONBLOCK);
	if (fd < 0)
		return cm_err(-errno, "fd %u: cannot reopen '%s'", e->fd, path);
	if (fstat(fd, &st) || !type_matches(e->kind, st.st_mode)) {
		close(fd);
		return cm_err(-EINVAL, "fd %u: '%s' is no longer a %s", e->fd, path,
			      fd_kind_name(e->kind));
	}
	if (!(reopen_flags(e) & O_NONBLOCK) && fcntl(fd, F_SETFL, reopen_flags(e) & ~O_ACCMODE)) {
		int ret = cm_err(-errno, "fd %u: '%s': F_SETFL", e->fd, path);

		close(fd);
		return ret;
	}
	if (e->has_ino && e->kind == FD_KIND__FD_REG && st.st_ino != e->ino)
		pr_warn("fd %u: '%s' is not the file of the dump (inode %lu, was %lu)", e->fd,
			path, (unsigned long)st.st_ino, (unsigned long)e->ino);
	if (e->kind == FD_KIND__FD_REG && e->has_pos &&
	    lseek(fd, (off_t)e->pos, SEEK_SET) == (off_t)-1) {
		int ret = cm_err(-errno, "fd %u: cannot seek '%s' to %lu", e->fd, path,
				 (unsigned long)e->pos);

		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

static int fd_cloexec(const FdEntry *e)
{
	return (e->has_cloexec && e->cloexec) || (e->has_flags && (e->flags & O_CLOEXEC));
}

/* A pipe whose both ends the process holds: one pipe2(), every fd a dup. */
struct pipe_pair {
	uint64_t ino;
	int fd[2];	/* read, write */
};

static int pipe_is_write(const FdEntry *e)
{
	return e->has_flags && (e->flags & O_ACCMODE) == O_WRONLY;
}

static int prepare_pipe(FdEntry **all, size_t nr, const FdEntry *e, struct pipe_pair *pp,
			size_t *npp, int *src)
{
	int w = pipe_is_write(e), other = 0;
	struct pipe_pair *p = NULL;
	size_t i;

	for (i = 0; i < *npp && !p; i++)
		if (pp[i].ino == e->ino)
			p = &pp[i];
	if (!p) {
		for (i = 0; i < nr; i++)
			if (all[i]->kind == FD_KIND__FD_PIPE && all[i]->ino == e->ino &&
			    pipe_is_write(all[i]) != w)
				other = 1;
		if (!other || !e->has_ino)
			return -ENOTCONN;
		p = &pp[(*npp)++];
		p->ino = e->ino;
		if (pipe2(p->fd, O_CLOEXEC | (e->flags & O_NONBLOCK))) {
			p->fd[0] = p->fd[1] = -1;
			return cm_err(-errno, "fd %u: pipe2", e->fd);
		}
	}
	*src = fcntl(p->fd[w], F_DUPFD_CLOEXEC, 0);
	return *src < 0 ? cm_err(-errno, "fd %u: dup", e->fd) : 0;
}

/* True when --stdin/--stdout/--stderr or --inherit-fd gives fd its source. */
static int opt_covers(const struct restore_opts *o, uint32_t fd)
{
	size_t i;

	if (fd <= 2 && o->std_path[fd])
		return 1;
	for (i = 0; i < o->nr_inherit_fds; i++)
		if ((uint32_t)o->inherit_fds[i].fd == fd)
			return 1;
	return 0;
}

static int prepare_one(const struct restore_opts *o, FdEntry **all, size_t nr, const FdEntry *e,
		       struct pipe_pair *pp, size_t *npp, struct rn_fds *f)
{
	int src = -1, ret = 0;

	if (opt_covers(o, e->fd))	/* source from prepare_options(), flag from here */
		return fds_add(f, (int)e->fd, -1, fd_cloexec(e), 0);
	if (e->fd <= 2) {
		/* stdin/out/err: criu-mem's own, whatever they were at dump time. */
		if (fcntl((int)e->fd, F_GETFD) < 0) {
			pr_warn("fd %u: criu-mem's own fd %u is closed; left closed", e->fd, e->fd);
			return 0;
		}
		return fds_add(f, (int)e->fd, (int)e->fd, fd_cloexec(e), 0);
	}
	switch (e->kind) {
	case FD_KIND__FD_REG:
	case FD_KIND__FD_CHR:
	case FD_KIND__FD_DIR:
	case FD_KIND__FD_TTY:
		ret = open_path(e, e->path, &src);
		break;
	case FD_KIND__FD_DEVNULL:
		ret = open_path(e, "/dev/null", &src);
		break;
	case FD_KIND__FD_PIPE:
		if (e->path && e->path[0] == '/') {	/* a named FIFO */
			ret = open_path(e, e->path, &src);
			break;
		}
		ret = prepare_pipe(all, nr, e, pp, npp, &src);
		if (ret == -ENOTCONN)
			goto unsupported;
		break;
	case FD_KIND__FD_INHERIT:
		pr_warn("fd %u: inherited at dump time but not given with --inherit-fd; "
			"left closed", e->fd);
		return 0;
	default:
		goto unsupported;
	}
	if (ret < 0)
		return ret;
	return fds_add(f, (int)e->fd, src, fd_cloexec(e), 1);

unsupported:
	if (o->skip_unsupported_fds) {
		pr_warn("fd %u (%s%s%s): unsupported fd, left closed", e->fd, fd_kind_name(e->kind),
			e->path ? " " : "", e->path ? e->path : "");
		return 0;
	}
	if (e->kind == FD_KIND__FD_PIPE)
		return cm_err(-EOPNOTSUPP, "fd %u: pipe:[%lu] whose other end is outside the "
			      "process: pass --inherit-fd fd[FROM]:%u or --skip-unsupported-fds",
			      e->fd, (unsigned long)e->ino, e->fd);
	return cm_err(-EOPNOTSUPP, "fd %u (%s%s%s): unsupported fd, use --skip-unsupported-fds",
		      e->fd, fd_kind_name(e->kind), e->path ? " " : "", e->path ? e->path : "");
}

static int read_files(const struct img_dir *d, unsigned int pid, FdEntry ***out, size_t *nr)
{
	struct img_reader *r = NULL;
	ProtobufCMessage *msg;
	FdEntry **v = NULL;
	char name[64];
	size_t n = 0, cap = 0;
	int ret;

	ret = img_kind_filename(IMG_FILES, pid, name, sizeof(name));
	if (ret)
		return cm_err(ret, "files image name");
	ret = img_reader_open(d, IMG_FILES, name, &r);
	if (ret == -ENOENT)
		return 1;
	if (ret)
		return cm_err(ret, "cannot open '%s': %s", name, img_strerror());
	while ((ret = img_reader_next(r, &msg)) == 1) {
		FdEntry *e = (FdEntry *)msg;

		if (n >= IMG_MAX_FDS) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = cm_err(-EOVERFLOW, "'%s': more than %u fd records", name, IMG_MAX_FDS);
			goto out;
		}
		if (e->fd >= RN_MAX_FDNUM) {
			ret = cm_err(-EBADMSG, "'%s': fd %u out of range (at most %u)", name, e->fd,
				     RN_MAX_FDNUM - 1);
			protobuf_c_message_free_unpacked(msg, NULL);
			goto out;
		}
		ret = array_grow(&v, &cap, n, sizeof(*v), 16);
		if (ret) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = cm_err(ret, "'%s': %zu fd records", name, n + 1);
			goto out;
		}
		v[n++] = e;
	}
	if (ret < 0)
		ret = cm_err(ret, "cannot read '%s': %s", name, img_strerror());
out:
	img_reader_free(r);
	if (ret < 0) {
		while (n)
			protobuf_c_message_free_unpacked(&v[--n]->base, NULL);
		free(v);
		return ret;
	}
	*out = v;
	*nr = n;
	return 0;
}

/* The close-on-exec flag the image gave fd (kept by prepare_one()), else 0. */
static int image_cloexec(const struct rn_fds *f, int fd)
{
	size_t i;

	for (i = 0; i < f->nr; i++)
		if (f->v[i].fd == fd)
			return f->v[i].cloexec;
	return 0;
}

/* --stdin/--stdout/--stderr and --inherit-fd, applied over the image's table. */
static int prepare_options(const struct restore_opts *o, struct rn_fds *f)
{
	size_t i;
	int fd, ret;

	for (i = 0; i < 3; i++) {
		if (!o->std_path[i])
			continue;
		fd = i ? open(o->std_path[i], O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY | O_CLOEXEC,
			      0600) : open(o->std_path[i], O_RDONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return cm_err(-errno, "cannot open '%s' for fd %zu", o->std_path[i], i);
		ret = fds_add(f, (int)i, fd, 0, 1);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	for (i = 0; i < o->nr_inherit_fds; i++) {
		const struct restore_inherit_fd *h = &o->inherit_fds[i];

		if (h->fd < 0 || h->fd >= RN_MAX_FDNUM || fcntl(h->from, F_GETFD) < 0)
			return cm_err(-EBADF, "--inherit-fd fd[%d]:%d: fd %d is not open here",
				      h->from, h->fd, h->from);
		ret = fds_add(f, h->fd, h->from, image_cloexec(f, h->fd), 0);
		if (ret)
			return ret;
	}
	return 0;
}

int rn_fds_prepare(const struct restore_opts *o, const struct img_dir *d, unsigned int pid,
		   struct rn_fds *f)
{
	struct pipe_pair *pp = NULL;
	FdEntry **all = NULL;
	size_t nr = 0, npp = 0, i;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = read_files(d, pid, &all, &nr);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		pr_info("no files image: fds 0, 1 and 2 are inherited");
		for (i = 0; i < 3 && !ret; i++)
			if (fcntl((int)i, F_GETFD) >= 0)
				ret = fds_add(f, (int)i, (int)i, 0, 0);
		goto options;
	}
	pp = calloc(nr ? nr : 1, sizeof(*pp));
	if (!pp) {
		ret = cm_err(-ENOMEM, "fd table");
		goto out;
	}
	for (i = 0; i < nr && !ret; i++)
		ret = prepare_one(o, all, nr, all[i], pp, &npp, f);
options:
	if (!ret)
		ret = prepare_options(o, f);
out:
	for (i = 0; i < npp; i++) {
		close_safe(&pp[i].fd[0]);
		close_safe(&pp[i].fd[1]);
	}
	free(pp);
	for (i = 0; i < nr; i++)
		protobuf_c_message_free_unpacked(&all[i]->base, NULL);
	free(all);
	if (ret)
		rn_fds_release(f);
	return ret;
}

int rn_fds_install(struct rn_fds *f, int keep)
{
	int base = 3, nkeep, i, n = (int)f->nr;

	for (i = 0; i < n; i++)
		base = MAX(base, MAX(f->v[i].fd, f->v[i].src) + 1);
	base = MAX(base, keep + 1);
	nkeep = fcntl(keep, F_DUPFD_CLOEXEC, base);
	if (nkeep < 0)
		return -errno;
	/* Sources above every target number first, then everything low closed. */
	for (i = 0; i < n; i++) {
		if (f->v[i].src < 0)
			continue;
		f->v[i].src = fcntl(f->v[i].src, F_DUPFD_CLOEXEC, base);
		if (f->v[i].src < 0)
			return -errno;
	}
	if (close_range(0, (unsigned int)base - 1, 0))
		return -errno;
	for (i = 0; i < n; i++)
		if (f->v[i].src >= 0 &&
		    dup3(f->v[i].src, f->v[i].fd, f->v[i].cloexec ? O_CLOEXEC : 0) < 0)
			return -errno;
	if (nkeep > base && close_range((unsigned int)base, (unsigned int)nkeep - 1, 0))
		return -errno;
	if (close_range((unsigned int)nkeep + 1, ~0U, 0))
		return -errno;
	return nkeep;
}
